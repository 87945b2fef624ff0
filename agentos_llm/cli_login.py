"""`agentos-llm login PROVIDER` and `agentos-llm logout PROVIDER`: sign-in through `agentos_llm.auth`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["add_login_parsers"]


def add_login_parsers(sub: Any) -> None:
    """Adds the `login` and `logout` subcommands to the CLI's subparsers."""
    login = sub.add_parser("login", help="sign in to a provider (OAuth in a browser, or a code on another device)")
    login.add_argument("provider", metavar="PROVIDER", help="the provider id, as in [providers.<id>] of the config")
    login.add_argument("--profile", metavar="P", help="a named credential (auth profile), such as work or personal")
    login.add_argument("--device", action="store_true",
                       help="sign in on another device with a short code (for machines without a browser)")
    login.add_argument("--no-browser", action="store_true",
                       help="print the sign-in address instead of opening a browser")
    login.set_defaults(fn=_login)
    logout = sub.add_parser("logout", help="remove a provider's stored sign-in (and revoke it at the issuer)")
    logout.add_argument("provider", metavar="PROVIDER")
    logout.add_argument("--profile", metavar="P", help="the named credential to remove")
    logout.add_argument("--no-revoke", action="store_true", help="only delete the local token; do not ask the issuer")
    logout.set_defaults(fn=_logout)


def _login(args: argparse.Namespace) -> int:
    from .auth.oauth import login, provider_settings

    result = login(args.provider, profile=args.profile, device=args.device, open_browser=not args.no_browser)
    if result.kind == "api_key":
        what = "an API key (it does not expire; revoke it on the provider's site)"
    elif result.expires_at is None:
        what = "a token without an expiry"
    else:
        left = max(0, int(result.expires_at - time.time()))
        renew = "refreshed automatically" if result.refreshable else "sign in again then"
        what = f"a token valid for {left // 60} min ({renew})"
    print(f"Signed in to {args.provider} ({result.credential_source}): {what}, stored in {result.path}")
    profiles = provider_settings(args.provider).get("profiles")
    missing = result.profile and not (isinstance(profiles, dict) and result.profile in profiles)
    if missing or provider_settings(args.provider, result.profile).get("auth") != "oauth":
        from .config_writer import use_oauth

        where = f"[providers.{args.provider}" + (f".profiles.{result.profile}]" if result.profile else "]")
        print(f"Set auth = \"oauth\" under {where} in {use_oauth(args.provider, result.profile)}", file=sys.stderr)
    return 0


def _logout(args: argparse.Namespace) -> int:
    from .auth.oauth import logout

    name = args.provider + (f" (profile {args.profile})" if args.profile else "")
    if logout(args.provider, profile=args.profile, revoke=not args.no_revoke):
        print(f"Signed out of {name}: the stored sign-in was removed")
        return 0
    print(f"No stored sign-in for {name}", file=sys.stderr)
    return 1
