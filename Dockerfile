# The app as production runs it: gunicorn with gunicorn.conf.py (compose.yaml puts nginx in
# front). The same interpreter and Debian release as the test suite and the tested nginx.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=1048576

WORKDIR /app
COPY requirements.txt .
RUN pip install --requirement requirements.txt
COPY . .

# Runs as a user that owns nothing here: the code cannot be changed by the process serving it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin persona \
    && mkdir -p /data/backup-payloads && chown persona /data/backup-payloads
# Backup payloads without a bucket (BACKUP_S3_*): mount a volume here (compose.yaml does).
ENV BACKUP_STORAGE_DIR=/data/backup-payloads
USER persona

EXPOSE 3000
CMD ["gunicorn", "persona.wsgi", "--config", "gunicorn.conf.py"]
