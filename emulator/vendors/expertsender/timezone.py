"""The business unit's time zone as ExpertSender names it: a Windows time zone id in a cookie.

Every response example of "ExpertSender API v2: Get subscriber activity" carries
`Set-Cookie: TIMEZONE=Central European Standard Time; path=/`, the only signal of the zone behind the
naive `Date` values (ExpertSender API v2: Get server time). The emulator's zone is an IANA name
(EMULATOR_EXPERTSENDER_TIMEZONE); this table maps it to the Windows id (Unicode CLDR windowsZones.xml).
"""

from __future__ import annotations

_WINDOWS: dict[str, tuple[str, ...]] = {
    "Central European Standard Time": ("Europe/Warsaw", "Europe/Sarajevo", "Europe/Skopje", "Europe/Zagreb"),
    "Central Europe Standard Time": ("Europe/Budapest", "Europe/Prague", "Europe/Bratislava",
                                     "Europe/Belgrade", "Europe/Ljubljana", "Europe/Podgorica", "Europe/Tirane"),
    "W. Europe Standard Time": ("Europe/Berlin", "Europe/Amsterdam", "Europe/Rome", "Europe/Stockholm",
                                "Europe/Vienna", "Europe/Zurich", "Europe/Oslo", "Europe/Luxembourg",
                                "Europe/Malta", "Europe/Monaco", "Europe/Andorra", "Europe/San_Marino",
                                "Europe/Vatican", "Europe/Vaduz", "Europe/Gibraltar", "Europe/Busingen"),
    "Romance Standard Time": ("Europe/Paris", "Europe/Brussels", "Europe/Copenhagen", "Europe/Madrid"),
    "GMT Standard Time": ("Europe/London", "Europe/Dublin", "Europe/Lisbon", "Atlantic/Canary",
                          "Atlantic/Faroe", "Atlantic/Madeira", "Europe/Guernsey", "Europe/Jersey",
                          "Europe/Isle_of_Man"),
    "Greenwich Standard Time": ("Atlantic/Reykjavik",),
    "FLE Standard Time": ("Europe/Kyiv", "Europe/Kiev", "Europe/Helsinki", "Europe/Riga", "Europe/Sofia",
                          "Europe/Tallinn", "Europe/Vilnius", "Europe/Mariehamn"),
    "GTB Standard Time": ("Europe/Bucharest", "Europe/Athens", "Asia/Nicosia"),
    "E. Europe Standard Time": ("Europe/Chisinau",),
    "Kaliningrad Standard Time": ("Europe/Kaliningrad",),
    "Belarus Standard Time": ("Europe/Minsk",),
    "Russian Standard Time": ("Europe/Moscow", "Europe/Simferopol", "Europe/Kirov"),
    "Turkey Standard Time": ("Europe/Istanbul",),
    "Israel Standard Time": ("Asia/Jerusalem",),
    "South Africa Standard Time": ("Africa/Johannesburg",),
    "Arabian Standard Time": ("Asia/Dubai",),
    "India Standard Time": ("Asia/Kolkata", "Asia/Calcutta"),
    "Singapore Standard Time": ("Asia/Singapore", "Asia/Kuala_Lumpur"),
    "China Standard Time": ("Asia/Shanghai", "Asia/Hong_Kong"),
    "Tokyo Standard Time": ("Asia/Tokyo",),
    "AUS Eastern Standard Time": ("Australia/Sydney", "Australia/Melbourne"),
    "E. South America Standard Time": ("America/Sao_Paulo",),
    "Eastern Standard Time": ("America/New_York", "America/Toronto"),
    "Central Standard Time": ("America/Chicago", "America/Winnipeg"),
    "Mountain Standard Time": ("America/Denver", "America/Edmonton"),
    "Pacific Standard Time": ("America/Los_Angeles", "America/Vancouver"),
    "UTC": ("UTC", "Etc/UTC", "Etc/GMT"),
}
_BY_ZONE = {zone: windows for windows, zones in _WINDOWS.items() for zone in zones}


def windows_name(iana: str) -> str:
    """The Windows id of an IANA zone; a zone outside the table keeps its IANA name (emulator choice)."""
    return _BY_ZONE.get(iana, iana)


def timezone_cookie(iana: str) -> str:
    """The cookie of Get subscriber activity's examples, verbatim in form: `TIMEZONE=<Windows id>; path=/`
    (unquoted, spaces kept)."""
    return f"TIMEZONE={windows_name(iana)}; path=/"
