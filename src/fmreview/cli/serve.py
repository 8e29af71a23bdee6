"""``fmreview serve`` (the web app for review teams) and ``fmreview users`` (its accounts).

Passwords are never taken from the command line (it shows up in ``ps`` and shell history):
they come from the environment variable named by ``--password-env`` (default
``FMREVIEW_PASSWORD``) or from a hidden prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, UserArgument, open_store
from fmreview.errors import InputError

console = make_console()
err = make_console(stderr=True)

PASSWORD_ENV = "FMREVIEW_PASSWORD"
#: ``serve --create-admin``, ``users add`` and ``users passwd``: where the new password is.
PasswordEnvOption = typer.Option(
    PASSWORD_ENV, "--password-env", help="Environment variable holding the new password."
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def read_password(env: str, prompt: str) -> str:
    """The password from ``$env`` if set, else from a hidden prompt (asked twice)."""
    value = os.environ.get(env)
    if value:
        return value
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


def register(app: typer.Typer) -> None:
    _serve(app)

    users_app = typer.Typer(
        help="Accounts of the web app (admins and reviewers).", no_args_is_help=True
    )

    _users_add(users_app)

    _users_list(users_app)

    _users_passwd(users_app)

    _users_deactivate(users_app)
    _users_logout(users_app)

    app.add_typer(users_app, name="users")


def _serve(app: typer.Typer) -> None:
    """Register ``serve`` on ``app``."""

    @app.command("serve")
    def serve(
        directory: Path = DirOption,
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to bind (loopback by default)."
        ),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        secure_cookies: bool = typer.Option(
            False,
            "--secure-cookies",
            help="Mark cookies Secure (set when users reach the app over HTTPS).",
        ),
        root_path: str = typer.Option(
            "", "--root-path", help="URL prefix when a reverse proxy serves the app under a path."
        ),
        forwarded_allow_ips: str = typer.Option(
            "127.0.0.1",
            "--forwarded-allow-ips",
            help="Proxies whose X-Forwarded-For/-Proto headers are trusted (comma-separated).",
        ),
        create_admin: str | None = typer.Option(
            None,
            "--create-admin",
            help="Create this admin account first (password from the env or a prompt).",
        ),
        password_env: str = PasswordEnvOption,
        ranking: str = typer.Option(
            "background", "--ranking", help="Active-learning refit: background, sync or off."
        ),
    ) -> None:
        """Serve the web app: dual screening, conflicts, agreement and every human check.

        Binds 127.0.0.1 by default; put a TLS reverse proxy in front for a team server
        (then pass --secure-cookies, and --root-path when served under a path).

        Example: fmreview serve --dir ./fm-review --port 8000 --create-admin alice
        """
        import uvicorn

        from fmreview.web.app import create_app
        from fmreview.web.auth import create_user
        from fmreview.web.settings import WebSettings

        store = open_store(directory)
        if create_admin:
            create_user(
                store,
                create_admin,
                read_password(password_env, f"Password for {create_admin}"),
                role="admin",
            )
            console.print(f"admin {create_admin} created")
        if host not in LOOPBACK and not secure_cookies:
            err.print(
                f"[yellow]warning:[/] serving on {host} without --secure-cookies; put a TLS reverse proxy "
                "in front and pass --secure-cookies"
            )
        if root_path and not root_path.startswith("/"):
            raise InputError(f"--root-path {root_path!r} must start with '/', e.g. /review")
        app = create_app(
            store, settings=WebSettings(secure_cookies=secure_cookies, ranking=ranking)
        )
        console.print(f"serving {directory} on http://{host}:{port}{root_path}/ (Ctrl+C stops)")
        uvicorn.run(
            app,
            host=host,
            port=port,
            root_path=root_path.rstrip("/"),
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            workers=1,  # one process: the SQLite writer lives in it
            log_level="info",
        )


def _users_add(users_app: typer.Typer) -> None:
    """Register ``users_add`` on ``users_app``."""

    @users_app.command("add")
    def users_add(
        name: str = typer.Argument(..., help="User name (letters, digits, . _ - @)."),
        role: str = typer.Option("reviewer", "--role", help="admin or reviewer."),
        directory: Path = DirOption,
        password_env: str = PasswordEnvOption,
    ) -> None:
        """Add a web-app account; the password comes from $FMREVIEW_PASSWORD or a prompt.

        Example: fmreview users add bob --role reviewer --dir ./fm-review
        """
        from fmreview.web.auth import create_user

        store = open_store(directory)
        user = create_user(
            store, name, read_password(password_env, f"Password for {name}"), role=role
        )
        console.print(f"added {user.role} {user.username}")


def _users_list(users_app: typer.Typer) -> None:
    """Register ``users_list`` on ``users_app``."""

    @users_app.command("list")
    def users_list(directory: Path = DirOption, as_json: bool = JsonOption) -> None:
        """List the web-app accounts.

        Example: fmreview users list --dir ./fm-review
        """
        from fmreview.web.auth import list_users

        users = list_users(open_store(directory))
        if as_json:
            typer.echo(json.dumps([u.__dict__ for u in users], indent=2))
            return
        table = Table("user", "role", "active")
        for u in users:
            table.add_row(u.username, u.role, "yes" if u.active else "no")
        console.print(table)


def _users_passwd(users_app: typer.Typer) -> None:
    """Register ``users_passwd`` on ``users_app``."""

    @users_app.command("passwd")
    def users_passwd(
        name: str = UserArgument,
        directory: Path = DirOption,
        password_env: str = PasswordEnvOption,
    ) -> None:
        """Set a user's password (from $FMREVIEW_PASSWORD or a prompt).

        Example: fmreview users passwd bob --dir ./fm-review
        """
        from fmreview.web.auth import set_password

        set_password(
            open_store(directory), name, read_password(password_env, f"New password for {name}")
        )
        console.print(f"password of {name} changed")


def _users_deactivate(users_app: typer.Typer) -> None:
    """Register ``users_deactivate`` on ``users_app``."""

    @users_app.command("deactivate")
    def users_deactivate(
        name: str = UserArgument,
        directory: Path = DirOption,
        undo: bool = typer.Option(False, "--undo", help="Activate the account again."),
    ) -> None:
        """Deactivate an account (its decisions stay; its sessions end at once).

        Example: fmreview users deactivate bob --dir ./fm-review
        """
        from fmreview.web.auth import update_user

        user = update_user(open_store(directory), name, active=undo)
        console.print(f"{user.username} is {'active' if user.active else 'deactivated'}")


def _users_logout(users_app: typer.Typer) -> None:
    """Register ``users_logout`` on ``users_app``."""

    @users_app.command("logout")
    def users_logout(
        name: str = UserArgument,
        directory: Path = DirOption,
    ) -> None:
        """Log a user out everywhere: every session issued until now is refused.

        Example: fmreview users logout bob --dir ./fm-review
        """
        from fmreview.web.auth import end_sessions

        user = end_sessions(open_store(directory), name)
        console.print(f"every session of {user.username} has ended")
