"""The simulated course's Premier League teams and the other groups on its broker."""

from __future__ import annotations

__all__ = ["PEER_GROUPS", "TEAMS"]

TEAMS = (
    (42, "Arsenal"),
    (66, "Aston Villa"),
    (35, "Bournemouth"),
    (55, "Brentford"),
    (51, "Brighton"),
    (49, "Chelsea"),
    (52, "Crystal Palace"),
    (45, "Everton"),
    (36, "Fulham"),
    (57, "Ipswich"),
    (46, "Leicester"),
    (40, "Liverpool"),
    (50, "Manchester City"),
    (33, "Manchester United"),
    (34, "Newcastle"),
    (65, "Nottingham Forest"),
    (41, "Southampton"),
    (47, "Tottenham"),
    (48, "West Ham"),
    (39, "Wolves"),
)
PEER_GROUPS = tuple(str(n) for n in range(1, 25))
