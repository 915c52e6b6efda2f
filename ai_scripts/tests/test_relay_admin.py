import datetime

import pytest
from django.utils import timezone

from ai_scripts.models import AIBudget, AIRequest, AIService, AIUsageDay, ModelAlias, ModelRoute

SERVICES = "/admin/ai_scripts/aiservice/"
ALIASES = "/admin/ai_scripts/modelalias/"
BUDGETS = "/admin/ai_scripts/aibudget/"
REQUESTS = "/admin/ai_scripts/airequest/"
USAGE_DAYS = "/admin/ai_scripts/aiusageday/"

KEY_ENV = "PERSONA_ADMIN_TEST_KEY"
KEY = "sk-admin-test-key-8c41d2f0"
NOW = datetime.datetime(2026, 5, 20, 12, 0, tzinfo=datetime.UTC)


def service_data(**overrides):
    data = {
        "name": "openrouter",
        "enabled": "on",
        "health_url": "",
        "timeout_seconds": "2",
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
        "allowed_models": '["openai/gpt-4o-mini", "anthropic/claude-haiku"]',
        "priority": "10",
        "request_timeout_seconds": "90",
    }
    return {**data, **overrides}


def alias_data(*routes, **overrides):
    data = {
        "name": "persona-chat",
        "description": "The app's chat.",
        "enabled": "on",
        "routes-TOTAL_FORMS": str(len(routes)),
        "routes-INITIAL_FORMS": "0",
        "routes-MIN_NUM_FORMS": "0",
        "routes-MAX_NUM_FORMS": "1000",
    }
    for number, (service, model) in enumerate(routes):
        data[f"routes-{number}-service"] = str(service.pk)
        data[f"routes-{number}-model"] = model
    return {**data, **overrides}


def provider(name, *, priority=100, allowed_models=(), enabled=True, api_key_env=""):
    return AIService.objects.create(
        name=name,
        base_url=f"https://{name}.example.com/v1",
        api_key_env=api_key_env,
        allowed_models=list(allowed_models),
        priority=priority,
        enabled=enabled,
    )


def request_record(user, **fields):
    ok = {"model_alias": "persona-chat", "provider": "fake", "upstream_model": "fake-model", "status": 200}
    return AIRequest.objects.create(**{"user": user, "outcome": AIRequest.Outcome.OK, **ok, **fields})


@pytest.fixture
def records(alice, bob):
    AIUsageDay.objects.create(user=alice, day=NOW.date(), requests=1, prompt_tokens=10, completion_tokens=5)
    return [
        request_record(alice, prompt_tokens=10, completion_tokens=5, latency_ms=120, duration_ms=800),
        request_record(bob, status=502, outcome=AIRequest.Outcome.FAILED, stream=True),
    ]


def test_every_relay_admin_page_loads_for_staff(staff_client, alice, records):
    service = provider("fake")
    alias = ModelAlias.objects.create(name="persona-chat")
    ModelRoute.objects.create(alias=alias, service=service, model="fake-model")
    AIBudget.objects.create(user=alice)
    day = AIUsageDay.objects.get()

    for url in [
        SERVICES,
        f"{SERVICES}add/",
        f"{SERVICES}{service.pk}/change/",
        ALIASES,
        f"{ALIASES}add/",
        f"{ALIASES}{alias.pk}/change/",
        BUDGETS,
        f"{BUDGETS}add/",
        f"{BUDGETS}{alice.pk}/change/",
        REQUESTS,
        f"{REQUESTS}?outcome__exact=failed&stream__exact=1",
        f"{REQUESTS}{records[0].pk}/change/",
        USAGE_DAYS,
        f"{USAGE_DAYS}{day.pk}/change/",
    ]:
        assert staff_client.get(url).status_code == 200, url


def test_staff_can_add_a_relay_provider(staff_client):
    response = staff_client.post(f"{SERVICES}add/", service_data())

    assert response.status_code == 302
    assert list(
        AIService.objects.values_list(
            "name",
            "enabled",
            "health_url",
            "base_url",
            "api_key_env",
            "allowed_models",
            "priority",
            "request_timeout_seconds",
        )
    ) == [
        (
            "openrouter",
            True,
            "",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
            ["openai/gpt-4o-mini", "anthropic/claude-haiku"],
            10,
            90.0,
        )
    ]


@pytest.mark.parametrize("allowed_models", ["", "  ", "[]"])
def test_an_empty_model_list_saves_as_any_model(staff_client, allowed_models):
    response = staff_client.post(f"{SERVICES}add/", service_data(allowed_models=allowed_models))

    assert response.status_code == 302
    assert AIService.objects.get().allowed_models == []


def test_the_model_list_box_never_shows_null(staff_client):
    service = provider("fake")

    add = staff_client.get(f"{SERVICES}add/")
    change = staff_client.get(f"{SERVICES}{service.pk}/change/")
    refused = staff_client.post(f"{SERVICES}add/", service_data(name="", allowed_models=""))

    assert str(add.context["adminform"].form["allowed_models"]).count("\n[]</textarea>") == 1
    assert str(change.context["adminform"].form["allowed_models"]).count("\n[]</textarea>") == 1
    assert refused.status_code == 200
    assert "null" not in str(refused.context["adminform"].form["allowed_models"])
    assert AIService.objects.count() == 1


def test_the_service_form_refuses_a_bad_key_variable_name(staff_client):
    response = staff_client.post(f"{SERVICES}add/", service_data(api_key_env="lower-case"))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["api_key_env"]
    assert "capital letters, digits and underscores" in response.content.decode()
    assert AIService.objects.count() == 0


@pytest.mark.parametrize(
    ("allowed_models", "message"),
    [
        ("null", "A JSON list of model names"),
        ('"openai/gpt-4o-mini"', "A JSON list of model names"),
        ('{"model": "gpt"}', "A JSON list of model names"),
        ('["two words"]', "A JSON list of model names"),
        ('[""]', "A JSON list of model names"),
        ('["gpt",', "This is not valid JSON"),
    ],
)
def test_the_service_form_refuses_a_bad_model_list(staff_client, allowed_models, message):
    response = staff_client.post(f"{SERVICES}add/", service_data(allowed_models=allowed_models))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["allowed_models"]
    assert len(errors["allowed_models"]) == 1
    assert errors["allowed_models"][0].startswith(message)
    assert AIService.objects.count() == 0


def test_the_service_list_tells_whether_each_key_is_set(staff_client, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("PERSONA_ADMIN_UNSET_KEY", raising=False)
    provider("keyed", priority=1, api_key_env=KEY_ENV)
    provider("unset", priority=2, api_key_env="PERSONA_ADMIN_UNSET_KEY")
    AIService.objects.create(name="health-only", health_url="https://status.example.com/", priority=3)

    response = staff_client.get(SERVICES)

    assert response.status_code == 200
    cl = response.context["cl"]
    assert [
        (service.name, cl.model_admin.is_provider(service), cl.model_admin.api_key_status(service))
        for service in cl.result_list
    ] == [("keyed", True, "set"), ("unset", True, "missing"), ("health-only", False, "—")]
    assert '<td class="field-api_key_status">set</td>' in response.content.decode()


def test_the_api_key_never_appears_in_the_service_pages(staff_client, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    service = provider("keyed", api_key_env=KEY_ENV)

    pages = [
        staff_client.get(SERVICES),
        staff_client.get(f"{SERVICES}{service.pk}/change/"),
        staff_client.get(f"{SERVICES}{service.pk}/history/"),
        staff_client.post(f"{SERVICES}{service.pk}/change/", service_data(name="", api_key_env=KEY_ENV)),
    ]

    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    for page in pages:
        assert KEY not in page.content.decode()
    assert KEY_ENV in pages[1].content.decode()


def test_staff_can_route_an_alias_to_providers(staff_client):
    main = provider("main", priority=1, allowed_models=["gpt-main"])
    backup = provider("backup", priority=2)

    response = staff_client.post(f"{ALIASES}add/", alias_data((backup, "any-model"), (main, "gpt-main")))

    assert response.status_code == 302
    alias = ModelAlias.objects.get()
    assert (alias.name, alias.description, alias.enabled) == ("persona-chat", "The app's chat.", True)
    assert sorted(alias.routes.values_list("service__name", "model")) == [
        ("backup", "any-model"),
        ("main", "gpt-main"),
    ]


def test_a_route_to_a_service_without_base_url_is_refused(staff_client):
    health_only = AIService.objects.create(name="health-only", health_url="https://status.example.com/")

    response = staff_client.post(f"{ALIASES}add/", alias_data((health_only, "gpt")))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors == [{"service": ["This service has no base URL, so it is not a provider."]}]
    assert "This service has no base URL, so it is not a provider." in response.content.decode()
    assert ModelAlias.objects.count() == 0
    assert ModelRoute.objects.count() == 0


def test_a_route_to_a_model_the_provider_does_not_allow_is_refused(staff_client):
    main = provider("main", allowed_models=["gpt-main", "gpt-mini"])

    response = staff_client.post(f"{ALIASES}add/", alias_data((main, "gpt-other")))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors == [{"model": ["main allows only: gpt-main, gpt-mini."]}]
    assert "main allows only: gpt-main, gpt-mini." in response.content.decode()
    assert ModelAlias.objects.count() == 0
    assert ModelRoute.objects.count() == 0


def test_the_alias_list_shows_providers_in_the_order_tried(staff_client):
    fake = provider("fake", priority=1)
    backup = provider("backup", priority=5)
    retired = provider("retired", priority=3, enabled=False)
    chat = ModelAlias.objects.create(name="persona-chat")
    for service in [backup, retired, fake]:
        ModelRoute.objects.create(alias=chat, service=service, model="m")
    ModelAlias.objects.create(name="unrouted", enabled=False)

    response = staff_client.get(ALIASES)

    assert response.status_code == 200
    cl = response.context["cl"]
    assert [(alias.name, alias.enabled, cl.model_admin.providers(alias)) for alias in cl.result_list] == [
        ("persona-chat", True, "fake → retired (disabled) → backup"),
        ("unrouted", False, "—"),
    ]


def test_staff_can_set_a_users_budget(staff_client, alice):
    response = staff_client.post(
        f"{BUDGETS}add/",
        {
            "user": str(alice.pk),
            "requests_per_day": "",
            "requests_per_month": "0",
            "tokens_per_day": "1000",
            "tokens_per_month": "",
        },
    )

    assert response.status_code == 302
    assert list(
        AIBudget.objects.values_list(
            "user", "requests_per_day", "requests_per_month", "tokens_per_day", "tokens_per_month"
        )
    ) == [(alice.pk, None, 0, 1000, None)]


def test_a_budget_keeps_its_user_when_changed(staff_client, alice, bob):
    AIBudget.objects.create(user=alice, tokens_per_day=1000)

    response = staff_client.post(
        f"{BUDGETS}{alice.pk}/change/",
        {
            "user": str(bob.pk),
            "requests_per_day": "5",
            "requests_per_month": "",
            "tokens_per_day": "",
            "tokens_per_month": "",
        },
    )

    assert response.status_code == 302
    assert list(
        AIBudget.objects.values_list(
            "user", "requests_per_day", "requests_per_month", "tokens_per_day", "tokens_per_month"
        )
    ) == [(alice.pk, 5, None, None, None)]


def test_the_budget_form_names_the_defaults(staff_client, settings):
    settings.AI_RELAY_REQUESTS_PER_DAY = 50
    settings.AI_RELAY_TOKENS_PER_MONTH = 0

    response = staff_client.get(f"{BUDGETS}add/")

    form = response.context["adminform"].form
    assert form.fields["requests_per_day"].help_text == "empty: the default (50); 0: no limit"
    assert form.fields["tokens_per_month"].help_text == "empty: the default (0); 0: no limit"


def test_the_budget_page_shows_usage_against_the_limits(staff_client, alice, bob, settings, monkeypatch):
    settings.AI_RELAY_REQUESTS_PER_DAY = 50
    settings.AI_RELAY_REQUESTS_PER_MONTH = 600
    settings.AI_RELAY_TOKENS_PER_MONTH = 900_000
    AIBudget.objects.create(user=alice, tokens_per_day=1000, tokens_per_month=0)
    AIUsageDay.objects.create(user=alice, day=NOW.date(), requests=3, prompt_tokens=100, completion_tokens=50)
    AIUsageDay.objects.create(
        user=alice, day=datetime.date(2026, 5, 2), requests=4, prompt_tokens=400, completion_tokens=40
    )
    AIUsageDay.objects.create(
        user=alice, day=datetime.date(2026, 4, 30), requests=9, prompt_tokens=900, completion_tokens=90
    )
    AIUsageDay.objects.create(user=bob, day=NOW.date(), requests=8, prompt_tokens=800, completion_tokens=80)
    monkeypatch.setattr(timezone, "now", lambda: NOW)

    response = staff_client.get(f"{BUDGETS}{alice.pk}/change/")

    assert response.status_code == 200
    assert (
        "Requests today: 3 of 50<br>Requests this month: 7 of 600<br>"
        "Tokens today: 150 of 1000<br>Tokens this month: 590 (no limit)"
    ) in response.content.decode()


def test_the_budget_list_shows_defaults_and_no_limits(staff_client, alice, bob, settings):
    settings.AI_RELAY_REQUESTS_PER_DAY = 50
    settings.AI_RELAY_REQUESTS_PER_MONTH = 600
    settings.AI_RELAY_TOKENS_PER_DAY = 7000
    settings.AI_RELAY_TOKENS_PER_MONTH = 90_000
    AIBudget.objects.create(user=alice, requests_per_day=0, tokens_per_day=1000)
    AIBudget.objects.create(user=bob)

    response = staff_client.get(BUDGETS)

    assert response.status_code == 200
    columns = response.context["cl"].list_display[2:]
    assert [
        (str(budget.user), *(column(budget) for column in columns))
        for budget in response.context["cl"].result_list
    ] == [
        ("alice@example.com", "no limit", "default (600)", 1000, "default (90000)"),
        ("bob@example.com", "default (50)", "default (600)", "default (7000)", "default (90000)"),
    ]


def test_relay_records_are_read_only(staff_client, records):
    alices = records[0]

    pages = {
        "list": staff_client.get(REQUESTS),
        "add": staff_client.get(f"{REQUESTS}add/"),
        "view": staff_client.get(f"{REQUESTS}{alices.pk}/change/"),
        "change": staff_client.post(
            f"{REQUESTS}{alices.pk}/change/", {"status": "500", "prompt_tokens": "0"}
        ),
        "delete": staff_client.post(f"{REQUESTS}{alices.pk}/delete/", {"post": "yes"}),
        "day add": staff_client.get(f"{USAGE_DAYS}add/"),
        "day change": staff_client.post(
            f"{USAGE_DAYS}{AIUsageDay.objects.get().pk}/change/", {"requests": "0"}
        ),
    }

    assert {name: page.status_code for name, page in pages.items()} == {
        "list": 200,
        "add": 403,
        "view": 200,
        "change": 403,
        "delete": 403,
        "day add": 403,
        "day change": 403,
    }
    assert pages["list"].context["has_add_permission"] is False
    assert pages["list"].context["cl"].model_admin.get_actions(pages["list"].wsgi_request) == {}
    assert 'name="_save"' not in pages["view"].content.decode()
    assert list(AIRequest.objects.order_by("id").values_list("user", "status", "prompt_tokens")) == [
        (alices.user_id, 200, 10),
        (records[1].user_id, 502, 0),
    ]
    assert list(AIUsageDay.objects.values_list("requests", "prompt_tokens")) == [(1, 10)]


def test_the_request_list_shows_the_relay_columns_and_searches_by_email(staff_client, records):
    everyone = staff_client.get(REQUESTS)
    bobs = staff_client.get(REQUESTS, {"q": "bob@"})
    failed = staff_client.get(REQUESTS, {"outcome__exact": "failed"})

    for heading in ("Model alias", "Provider", "Outcome", "Prompt tokens", "Completion tokens", "Latency ms"):
        assert f">{heading}<" in everyone.content.decode()
    assert [record.pk for record in everyone.context["cl"].result_list] == [records[1].pk, records[0].pk]
    assert [record.pk for record in bobs.context["cl"].result_list] == [records[1].pk]
    assert [record.pk for record in failed.context["cl"].result_list] == [records[1].pk]


def test_the_usage_day_list_searches_by_email(staff_client, alice, bob):
    AIUsageDay.objects.create(user=alice, day=datetime.date(2026, 5, 1), requests=2)
    AIUsageDay.objects.create(user=bob, day=datetime.date(2026, 5, 2), requests=3)

    everyone = staff_client.get(USAGE_DAYS)
    alices = staff_client.get(USAGE_DAYS, {"q": "alice"})

    assert everyone.status_code == 200
    assert [(str(day.user), day.requests) for day in everyone.context["cl"].result_list] == [
        ("bob@example.com", 3),
        ("alice@example.com", 2),
    ]
    assert [(str(day.user), day.requests) for day in alices.context["cl"].result_list] == [
        ("alice@example.com", 2)
    ]


@pytest.mark.parametrize("url", [SERVICES, ALIASES, BUDGETS, REQUESTS, USAGE_DAYS])
def test_non_staff_are_sent_to_the_login_page(client, alice, url):
    client.force_login(alice)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"
