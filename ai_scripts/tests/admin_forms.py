"""Paths and form posts for driving the AI scripts admin with Django's test client."""

CHANGELIST = "/admin/ai_scripts/aiscript/"


def change_url(script):
    return f"{CHANGELIST}{script.pk}/change/"


def form_data(**overrides):
    data = {
        "script_name": "greeting",
        "version": "1.0",
        "script_content": '{"system": "Hello."}',
        "is_active": "on",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
