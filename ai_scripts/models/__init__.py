"""The app's models, one module per feature: the prompt templates (scripts), the relay's
providers, routes, budgets and usage (relay), the remote app configuration (app_config)."""

from ai_scripts.models.app_config import ConfigParameter, ConfigRule, ConfigVersion
from ai_scripts.models.relay import (
    AIBudget,
    AIRequest,
    AIService,
    AIUsageDay,
    ModelAlias,
    ModelRoute,
    validate_env_var_name,
    validate_model_list,
    validate_upstream_model,
)
from ai_scripts.models.scripts import (
    SCRIPT_CONTENT_MAX_BYTES,
    AIScript,
    AIScriptVersion,
    validate_script_content,
)

__all__ = [
    "SCRIPT_CONTENT_MAX_BYTES",
    "AIBudget",
    "AIRequest",
    "AIScript",
    "AIScriptVersion",
    "AIService",
    "AIUsageDay",
    "ConfigParameter",
    "ConfigRule",
    "ConfigVersion",
    "ModelAlias",
    "ModelRoute",
    "validate_env_var_name",
    "validate_model_list",
    "validate_script_content",
    "validate_upstream_model",
]
