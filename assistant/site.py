"""The site profile: who the assistant speaks for, in one place.

A ``SiteProfile`` holds the site's names, what it is, its contacts and the service's public
address. ``Settings.site_profile()`` builds it once at the edge (app factory, CLI) from
``KMR_SITE_NAME``, ``KMR_SITE_SHORT_NAME``, ``KMR_SITE_DESCRIPTION``, ``KMR_CONTACT_PHONE``,
``KMR_CONTACT_URL``, ``KMR_PUBLIC_URL`` and ``KMR_SITE_ALIASES``; the LLM's instructions, the
refusals, the API's title, the pages and the widget take their words from it, and the answer
engine's terms drop its names (``assistant.terms``), so a second site changes settings, not
code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiteProfile:
    """The site's names, description, contacts and public address."""

    name: str  # in full: the LLM's instructions, refusals, the API's description
    short_name: str  # everyday: titles, the widget's launcher, "contact ... on"
    description: str  # what the site is, told to the language model after its name
    phone: str  # switchboard, given when the assistant cannot answer
    contact_url: str  # contacts page, given when the assistant cannot answer
    public_url: str  # the service's public origin, without a trailing slash
    aliases: tuple[str, ...] = ()  # other names visitors use ("KM Rosso"): matched, never shown

    def names(self) -> tuple[str, ...]:
        """Every name the site goes by: in full, everyday, then the aliases (empty ones out)."""
        return tuple(n for n in (self.name, self.short_name, *self.aliases) if n.strip())

    def values(self) -> dict[str, str]:
        """What a text may name, by placeholder: ``site_name``, ``site_short_name``,
        ``site_description``, ``phone``, ``url`` (the contacts page) and ``public_url``."""
        return {
            "site_name": self.name,
            "site_short_name": self.short_name,
            "site_description": self.description,
            "phone": self.phone,
            "url": self.contact_url,
            "public_url": self.public_url,
        }


# The profile the default settings build (a test keeps the two equal); the settings take their
# defaults from here.
DEFAULT_SITE = SiteProfile(
    name="Kilometro Rosso Innovation District",
    short_name="Kilometro Rosso",
    description="a science and technology park in Bergamo, Italy",
    phone="+39 035 591100",
    contact_url="https://www.kilometrorosso.com/en/contacts",
    public_url="http://127.0.0.1:8000",
    aliases=("KM Rosso",),
)
