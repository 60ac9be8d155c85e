"""The profile attributes' privacy plan: the answers a member gave (vegetarian, window or aisle…).

Definitions are the brand's, not the member's; the member's row of values is deleted on erasure.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy


def _export(user) -> dict:
    from accounts.profile.selectors import attributes_export

    return {"about_you": attributes_export(user)}


def _erase(ctx: privacy.StepContext) -> dict:
    from accounts.models import MemberAttributes
    from accounts.profile.services import profile_attributes_erase

    if ctx.user is None:
        return {"deleted": MemberAttributes.objects.filter(user_id=ctx.user_ref).delete()[0]}
    return {"deleted": profile_attributes_erase(user=ctx.user)}


privacy.plan_register(
    privacy.Plan(
        name="profile_attributes",
        title=_("About you"),
        page_order=150,
        order=850,
        models=("accounts.MemberAttributes",),
        export=_export,
        labels={"about_you": _("About you")},
        corrections=((_("About you"), "accounts:profile_attributes"),),
        steps=(privacy.Step("values", _erase, privacy.DELETE),),
    )
)
