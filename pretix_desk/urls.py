"""URL wiring. pretix imports this module after its bundled plugins' urls, before it
builds its API routers, so registrations on pretix's routers here take effect."""
from django.urls import re_path  # NOQA
from pretix.api.urls import checkinlist_router, event_router  # NOQA

urlpatterns = []

# --- auto check-in rules: control panel views and the API resource ---
from pretix_desk.api.rules import AutoCheckinRuleViewSet  # NOQA
from pretix_desk.views import rules as rule_views  # NOQA

_rules = r"^control/event/(?P<organizer>[^/]+)/(?P<event>[^/]+)/desk/rules/"
urlpatterns += [
    re_path(_rules + r"$", rule_views.RuleListView.as_view(), name="rules"),
    re_path(_rules + r"add$", rule_views.RuleCreateView.as_view(), name="rules.add"),
    re_path(_rules + r"(?P<rule>\d+)/$", rule_views.RuleUpdateView.as_view(), name="rules.edit"),
    re_path(_rules + r"(?P<rule>\d+)/delete$", rule_views.RuleDeleteView.as_view(), name="rules.delete"),
    re_path(_rules + r"(?P<rule>\d+)/apply$", rule_views.RuleApplyView.as_view(), name="rules.apply"),
    re_path(_rules + r"import$", rule_views.RuleImportView.as_view(), name="rules.import"),
]

# pretix's bundled auto check-in registered this prefix first; take its place (same
# prefix and basename). Our viewset defers to the bundled one for events without us.
for _i, (_prefix, _viewset, _basename) in enumerate(event_router.registry):
    if _prefix == "auto_checkin_rules":
        event_router.registry[_i] = (_prefix, AutoCheckinRuleViewSet, _basename)
        break
else:
    event_router.register(r"auto_checkin_rules", AutoCheckinRuleViewSet, basename="autocheckinrules")

# --- desk API (organizers/<o>/events/<e>/checkinlists/<list>/desk/, api-v1:desk-*) ---
from pretix_desk.api.desk import DeskViewSet  # NOQA

checkinlist_router.register(r"desk", DeskViewSet, basename="desk")

# --- the door at a glance (organizers/<o>/events/<e>/desk_door/, api-v1:desk-door-list) ---
from pretix_desk.api.door import DoorViewSet  # NOQA

event_router.register(r"desk_door", DoorViewSet, basename="desk-door")

# --- desk scanner page ---
from pretix_desk.views import desk as desk_views  # NOQA

urlpatterns += [
    re_path(r"^control/event/(?P<organizer>[^/]+)/(?P<event>[^/]+)/desk/$",
            desk_views.DeskView.as_view(), name="desk"),
    re_path(r"^control/event/(?P<organizer>[^/]+)/(?P<event>[^/]+)/desk/sw\.js$",
            desk_views.ServiceWorkerView.as_view(), name="desk.sw"),
    re_path(r"^control/event/(?P<organizer>[^/]+)/(?P<event>[^/]+)/desk/session/$",
            desk_views.DeskSessionView.as_view(), name="desk.session"),
]

# --- the door page ---
from pretix_desk.views import door as door_views  # NOQA

urlpatterns += [
    re_path(r"^control/event/(?P<organizer>[^/]+)/(?P<event>[^/]+)/desk/door/$",
            door_views.DoorView.as_view(), name="door"),
]
