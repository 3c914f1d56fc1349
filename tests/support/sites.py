"""Another site's profile, for tests that the assistant speaks for the configured site."""

from __future__ import annotations

from assistant.site import SiteProfile

VALLE_SERENA = SiteProfile(
    name="Parco Tecnologico Valle Serena",
    short_name="Valle Serena",
    description="a technology park in the Serena valley",
    phone="+39 0123 456789",
    contact_url="https://www.valleserena.example/contatti",
    public_url="https://assistant.valleserena.example",
)
