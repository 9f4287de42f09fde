"""The console's pages: home and look-up, a customer's page, its actions (confirm, then apply), sign-in."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote

import grpc
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wallet_client import WalletError
from wallet_console import action_forms, actions, customer_view, entries, history_filters
from wallet_console.customer_view import Forms
from wallet_console.state import Console, Forbidden, Visit, check_post, set_cookie, visit

# How a refusal of the service maps to the page's status: the page still shows it in the service's words.
_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Refusals after which the write may have applied: the form keeps its idempotency key, so sending it again
# cannot apply twice. After any other refusal the service decided and wrote nothing (and may have stored the
# refusal under the key, docs/errors.md): the form gets a new key, so that sending it again, corrected or after
# a top-up, is decided afresh rather than answered with the stored refusal.
_OUTCOME_UNKNOWN = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
}


def customer_url(customer_id: str) -> str:
    return "/customers/" + quote(customer_id, safe="")


def status_of(error: WalletError) -> int:
    return _STATUS.get(error.code, 502)


async def home(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    return seen.render("home.html")


async def lookup(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    customer_id = request.query_params.get("customer", "").strip()
    if not customer_id:
        return seen.render("home.html", 422, lookup_error="Enter a customer id, e.g. cus_1.")
    return seen.redirect(customer_url(customer_id))


async def customer_page(
    seen: Visit,
    customer_id: str,
    params: Mapping[str, str],
    forms: Forms | None = None,
    *,
    hold_errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        view = await customer_view.load(seen.client(), customer_id, params, seen.console.settings)
    except WalletError as error:
        return seen.render("problem.html", status_of(error), customer_id=customer_id, problem=error.message)
    if forms is None:
        forms = Forms.fresh(view.chart_query.currency)  # the busiest wallet
    for values in forms.values.values():
        values["currency"] = values.get("currency") or view.chart_query.currency  # (a Reverse form has none)
    return seen.render(
        "customer.html",
        status_code,
        view=view,
        forms=forms,
        hold_errors=hold_errors or {},
        ttls=actions.TTL_WORDS,
        entry_types=history_filters.ENTRY_TYPES,
        periods=list(customer_view.PERIODS),
        url=customer_url(customer_id),
    )


async def customer(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    return await customer_page(seen, request.path_params["customer_id"], request.query_params)


async def _posted_action(request: Request, *, apply: bool) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    form = await request.form()
    check_post(request, seen.session, str(form.get("csrf", "")))
    customer_id = request.path_params["customer_id"]
    fields = {name: str(form.get(name, "")) for name in action_forms.FIELDS}
    name = fields["action"]
    build = actions.ACTIONS.get(name)
    if build is None:
        return seen.render("problem.html", 400, customer_id=customer_id, problem=f"No action {name!r}.")
    if not seen.caller.can_write:
        problem = f"{seen.caller.name or 'This caller'} may not change wallets (it lacks the wallet.write scope)."
        return seen.render("problem.html", 403, customer_id=customer_id, problem=problem)
    client = seen.client()
    plan: actions.Plan | None = None
    try:
        balances = await client.get_balances(customer_id)
        plan = await build(customer_id, fields, balances, client)
        if not apply:
            return seen.render("confirm.html", plan=plan, customer_id=customer_id, url=customer_url(customer_id))
        seen.session.flash = await plan.run(client)
    except action_forms.FormError as error:
        return await _refused(seen, customer_id, fields, error.field, error.message, 422)
    except WalletError as error:
        if error.code not in _OUTCOME_UNKNOWN:
            fields["idempotency_key"] = f"console-{uuid.uuid4()}"
        message = plan.explain(error) if plan else error.message
        return await _refused(seen, customer_id, fields, "form", message, status_of(error))
    return seen.redirect(customer_url(customer_id))


async def _refused(
    seen: Visit, customer_id: str, fields: dict[str, str], field: str, message: str, status_code: int
) -> Response:
    """The customer's page again, the form as it was sent and the refusal next to it."""
    name = fields["action"]
    if name in ("capture", "release"):
        return await customer_page(
            seen, customer_id, {}, hold_errors={fields["hold_id"]: message}, status_code=status_code
        )
    forms = Forms.fresh(fields.get("currency", ""))
    forms.values[name] = fields
    forms.errors[name] = {field: message}
    # A Reverse form sits on an entry of the history: the page it was on is shown again, the entry in it.
    params = dict(parse_qsl(fields["page"])) if name == "reverse" else {}
    return await customer_page(seen, customer_id, params, forms, status_code=status_code)


async def confirm(request: Request) -> Response:
    return await _posted_action(request, apply=False)


async def apply(request: Request) -> Response:
    return await _posted_action(request, apply=True)


async def entry(request: Request) -> Response:
    """`/customers/<id>/entries/<entry id>`: the page of history that starts with that entry (a link that lasts)."""
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    customer_id, entry_id = request.path_params["customer_id"], request.path_params["entry_id"]
    try:
        newer = await entries.newer_id(seen.client(), customer_id, entry_id)
    except entries.NoSuchEntry:
        problem = f"{entry_id} is not one of {customer_id}'s entries."
        return seen.render("problem.html", 404, customer_id=customer_id, problem=problem)
    except WalletError as error:
        return seen.render("problem.html", status_of(error), customer_id=customer_id, problem=error.message)
    query = f"?after={quote(newer, safe='')}" if newer else ""
    return seen.redirect(f"{customer_url(customer_id)}{query}#entry-{quote(entry_id, safe='')}")


def _local(target: str) -> str:
    """Where to go after signing in: a path of this console only (never another site)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def signin(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console, signed_in=False)
    if not isinstance(seen, Visit):
        return seen
    next_url = _local(request.query_params.get("next", "/"))
    if not seen.auth_enabled:
        return seen.redirect(next_url)  # nothing to sign in to
    if request.method == "GET":
        return seen.render("signin.html", next_url=next_url)
    form = await request.form()
    check_post(request, seen.session, str(form.get("csrf", "")))
    token = str(form.get("token", "")).strip()
    next_url = _local(str(form.get("next", "/")))
    if not token:
        return seen.render("signin.html", 422, next_url=next_url, problem="Enter the caller token.")
    try:
        caller = await console.client(token).caller_info()
    except WalletError as error:
        return seen.render("signin.html", status_of(error), next_url=next_url, problem=error.message)
    # A new session id once signed in: an id known before (planted, or seen on a shared machine) is worth nothing.
    signed = console.sessions.create()
    signed.token, signed.caller = token, caller
    console.sessions.forget(seen.session)
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(response, signed)
    return response


async def signout(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console, signed_in=False)
    if not isinstance(seen, Visit):
        return seen
    form = await request.form()
    check_post(request, seen.session, str(form.get("csrf", "")))
    console.sessions.forget(seen.session)
    return seen.redirect("/signin")


async def forbidden(request: Request, error: Exception) -> Response:
    return Response(f"Refused: {error}\n", status_code=403, media_type="text/plain")


async def unavailable(request: Request, error: Exception) -> Response:
    """A failure of the service where no page could be drawn (it did not answer when asked who may call)."""
    console: Console = request.app.state.console
    message = error.message if isinstance(error, WalletError) else str(error)
    status_code = status_of(error) if isinstance(error, WalletError) else 502
    text = f"The wallet service at {console.settings.target} could not be asked: {message}\nReload to try again.\n"
    return Response(text, status_code=status_code, media_type="text/plain")


__all__ = [
    "Forbidden", "apply", "confirm", "customer", "entry", "forbidden", "home", "lookup", "signin", "signout",
    "unavailable",
]  # fmt: skip
