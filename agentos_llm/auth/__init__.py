"""Sign-in flows and their token store: OAuth 2.0 with PKCE or the device grant, and OpenRouter's key exchange.

`login`, `logout` and `current_token` live in `agentos_llm.auth.oauth`; authlib (the `oauth` extra)
loads only when signing in or refreshing.
"""

from __future__ import annotations

from .oauth import LoginResult, current_token, login, logout, signed_in

__all__ = ["LoginResult", "current_token", "login", "logout", "signed_in"]
