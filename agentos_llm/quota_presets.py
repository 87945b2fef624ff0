"""Quota presets: each vendor's quota endpoints and answer shape, as data.

Every preset is a plain mapping in the very shape a `[providers.<id>.quota.mapping]` config table takes
(see `agentos_llm.quota_mapping` for the path, divisor and time-format rules), so a gateway with an answer
of its own is described the same way. Host rows name their preset (`ProviderSpec.quota`); the config file
may name another, or a custom mapping.

A path alternative `a|b` reads `a`, else `b`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .quota_mapping import QuotaPreset

__all__ = ["PRESETS", "PRESET_NAMES", "get_preset"]

PRESETS: dict[str, dict[str, Any]] = {
    # OpenRouter. `GET /api/v1/key` (any key) answers
    #   {"data": {"label", "limit", "limit_reset", "limit_remaining", "include_byok_in_limit",
    #             "usage", "usage_daily", "usage_weekly", "usage_monthly", "byok_usage...", "is_free_tier", ...}}
    # in credits (1 credit = 1 USD): `limit` null is unlimited; `limit_reset` is the name of the period the
    # limit resets over ("daily", "weekly", "monthly") or null; the usage counters cover the current UTC day,
    # week (from Monday) and month.
    #   https://openrouter.ai/docs/api-reference/limits
    #   https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key
    # `GET /api/v1/credits` answers {"data": {"total_credits", "total_usage"}}, the account's purchases and
    # use; OpenRouter now requires a management key for it, so it is optional: a 401/403 there leaves the
    # key's numbers and says so in the message.
    #   https://openrouter.ai/docs/api/api-reference/credits/get-credits
    "openrouter": {
        "name": "openrouter",
        "docs": "https://openrouter.ai/docs/api-reference/limits",
        "endpoints": [
            {"path": "/key", "mapping": {
                "key": "data.label",
                "plan": "data.is_free_tier", "plan_values": {"true": "free tier", "false": "paid"},
                "windows": [
                    {"name": "key limit", "unit": "usd", "limit": "data.limit", "remaining": "data.limit_remaining",
                     "resets_at": "data.limit_reset", "time_format": "period"},
                    {"name": "usage today", "unit": "usd", "used": "data.usage_daily", "period": "day"},
                    {"name": "usage this week", "unit": "usd", "used": "data.usage_weekly", "period": "week"},
                    {"name": "usage this month", "unit": "usd", "used": "data.usage_monthly", "period": "month"},
                ],
            }},
            {"path": "/credits", "required": False, "mapping": {
                "balances": [{"currency": "USD", "limit": "data.total_credits", "used": "data.total_usage"}],
            }},
        ],
    },
    # LiteLLM proxy. `GET /key/info` at the proxy root, with the virtual key as Bearer, answers
    #   {"key": ..., "info": {"key_name", "key_alias", "spend", "max_budget", "budget_duration",
    #                         "budget_reset_at", "tpm_limit", "rpm_limit", "models", ...}}
    # spend and max_budget in USD (max_budget null: no budget), budget_reset_at an ISO instant. The proxy
    # needs its database for keys and budgets; without one it answers an error.
    #   https://docs.litellm.ai/docs/proxy/virtual_keys
    #   https://docs.litellm.ai/docs/proxy/users
    # `key_name` is LiteLLM's masked form of the key ("sk-...abcd"); the key itself is never mapped.
    "litellm": {
        "name": "litellm",
        "docs": "https://docs.litellm.ai/docs/proxy/virtual_keys",
        "endpoints": [
            {"path": "/key/info", "from_root": True, "mapping": {
                "key": "info.key_alias|info.key_name",
                "windows": [
                    {"name": "budget", "unit": "usd", "used": "info.spend", "limit": "info.max_budget",
                     "resets_at": "info.budget_reset_at", "time_format": "iso"},
                    {"name": "tokens per minute", "unit": "tokens", "limit": "info.tpm_limit"},
                    {"name": "requests per minute", "unit": "requests", "limit": "info.rpm_limit"},
                ],
            }},
        ],
    },
    # DeepSeek. `GET /user/balance` at the API root answers
    #   {"is_available": true, "balance_infos": [{"currency": "CNY", "total_balance": "110.00",
    #                                            "granted_balance": "10.00", "topped_up_balance": "100.00"}]}
    # amounts as decimal strings, one entry per currency; is_available says whether the balance can pay for
    # API calls.
    #   https://api-docs.deepseek.com/api/get-user-balance
    "deepseek": {
        "name": "deepseek",
        "docs": "https://api-docs.deepseek.com/api/get-user-balance",
        "endpoints": [
            {"path": "/user/balance", "from_root": True, "mapping": {
                "available": "is_available",
                "balances": [{"each": "balance_infos", "currency_path": "currency", "remaining": "total_balance",
                              "granted": "granted_balance", "topped_up": "topped_up_balance"}],
            }},
        ],
    },
    # The neutral gateway contract (this project's): any `openai-compatible` or `define_provider` host may name
    # a `quota_path`; `GET <base_url><quota_path>` with the host's key answers
    #   {"key": "<a name for the key>",
    #    "tokens": {"limit": int, "used": int, "remaining": int, "resets_at": ISO 8601 | epoch seconds},
    #    "cost": {"currency": "USD", "limit": number, "used": number, "remaining": number}}
    # every member optional; the token bucket becomes a window (with its used percent), the cost a balance.
    "neutral": {
        "name": "neutral",
        "docs": "docs/quota-and-cost.md",
        "endpoints": [
            {"path": "", "mapping": {
                "key": "key",
                "windows": [{"name": "tokens", "unit": "tokens", "limit": "tokens.limit", "used": "tokens.used",
                             "remaining": "tokens.remaining", "resets_at": "tokens.resets_at"}],
                "balances": [{"currency": "USD", "currency_path": "cost.currency", "limit": "cost.limit",
                              "used": "cost.used", "remaining": "cost.remaining"}],
            }},
        ],
    },
}

PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)
"""The preset names a host row or the config file may use (plus "custom", a mapping of one's own)."""


@cache
def get_preset(name: str) -> QuotaPreset:
    """A preset, validated; `KeyError` for an unknown name."""
    return QuotaPreset.model_validate(PRESETS[name])
