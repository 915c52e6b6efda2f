import pytest

from ai_scripts.models import AIService

# The relay provider's part of the form, as a browser posts it left as it is.
NOT_A_PROVIDER = {
    "base_url": "",
    "api_key_env": "",
    "allowed_models": "[]",
    "priority": "100",
    "request_timeout_seconds": "60",
}


def test_staff_can_configure_ai_services(staff_client):
    response = staff_client.post(
        "/admin/ai_scripts/aiservice/add/",
        {
            "name": "local-llm",
            "health_url": "http://127.0.0.1:8080/health",
            "timeout_seconds": "1.5",
            "enabled": "on",
            **NOT_A_PROVIDER,
        },
    )

    assert response.status_code == 302
    service = AIService.objects.get()
    assert (service.name, service.health_url, service.timeout_seconds, service.enabled) == (
        "local-llm",
        "http://127.0.0.1:8080/health",
        1.5,
        True,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"health_url": "file:///etc/passwd"}, "health_url"),
        ({"health_url": "not a url"}, "health_url"),
        ({"timeout_seconds": "0"}, "__all__"),
        ({"timeout_seconds": "60"}, "__all__"),
    ],
)
def test_the_service_admin_refuses_bad_values(staff_client, overrides, field):
    data = {
        "name": "x",
        "health_url": "http://127.0.0.1/health",
        "timeout_seconds": "1",
        "enabled": "on",
        **NOT_A_PROVIDER,
    }

    response = staff_client.post("/admin/ai_scripts/aiservice/add/", {**data, **overrides})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert AIService.objects.count() == 0


def test_the_service_admin_pages_render(staff_client):
    service = AIService.objects.create(name="chat", health_url="http://127.0.0.1/health")

    for url in [
        "/admin/ai_scripts/aiservice/",
        "/admin/ai_scripts/aiservice/add/",
        f"/admin/ai_scripts/aiservice/{service.pk}/change/",
    ]:
        assert staff_client.get(url).status_code == 200
