"""The Atari game lists of the papers sparserl implements, by ALE game name ("MsPacman"), and
the gymnasium ids users type for them ("ALE/MsPacman-v5")."""

from __future__ import annotations

# Graesser et al. 2022 (appendix "Atari Game Selection"): MsPacman, Pong and Qbert, plus 12 games
# spread evenly over DQN's human-normalised ranking (Mnih et al. 2015); Obando-Ceron et al. 2024
# (appendix B, "15 game subset") use the same 15.
GRAESSER_15: tuple[str, ...] = (
    "MsPacman",
    "Pong",
    "Qbert",
    "Assault",
    "Asterix",
    "BeamRider",
    "Boxing",
    "Breakout",
    "CrazyClimber",
    "DemonAttack",
    "Enduro",
    "FishingDerby",
    "SpaceInvaders",
    "Tutankham",
    "VideoPinball",
)

# Atari 100k (Kaiser et al. 2020), as listed in Obando-Ceron et al. 2024, appendix B.
ATARI_100K: tuple[str, ...] = (
    "Alien",
    "Amidar",
    "Assault",
    "Asterix",
    "BankHeist",
    "BattleZone",
    "Boxing",
    "Breakout",
    "ChopperCommand",
    "CrazyClimber",
    "DemonAttack",
    "Freeway",
    "Frostbite",
    "Gopher",
    "Hero",
    "Jamesbond",
    "Kangaroo",
    "Krull",
    "KungFuMaster",
    "MsPacman",
    "Pong",
    "PrivateEye",
    "Qbert",
    "RoadRunner",
    "Seaquest",
    "UpNDown",
)

# Dopamine's full set of 60 games: Obando-Ceron et al. 2024, appendix B ("60 game set": the 26
# above and 34 more). 55 of them are in the Atari-57 reference table (stats.references); AirRaid,
# Carnival, ElevatorAction, JourneyEscape and Pooyan have no human score in the standard tables,
# so no human-normalised score; Atari-57's Defender and Surround are not among the 60.
ATARI_60: tuple[str, ...] = tuple(
    sorted(
        (
            *ATARI_100K,
            "AirRaid",
            "Asteroids",
            "Atlantis",
            "BeamRider",
            "Berzerk",
            "Bowling",
            "Carnival",
            "Centipede",
            "DoubleDunk",
            "ElevatorAction",
            "Enduro",
            "FishingDerby",
            "Gravitar",
            "IceHockey",
            "JourneyEscape",
            "MontezumaRevenge",
            "NameThisGame",
            "Phoenix",
            "Pitfall",
            "Pooyan",
            "Riverraid",
            "Robotank",
            "Skiing",
            "Solaris",
            "SpaceInvaders",
            "StarGunner",
            "Tennis",
            "TimePilot",
            "Tutankham",
            "Venture",
            "VideoPinball",
            "WizardOfWor",
            "YarsRevenge",
            "Zaxxon",
        )
    )
)

GAME_LISTS: dict[str, tuple[str, ...]] = {
    "graesser15": GRAESSER_15,
    "atari100k": ATARI_100K,
    "atari60": ATARI_60,
}


def ale_env_id(game: str) -> str:
    """The gymnasium id of one of the 60 games: "Pong" -> "ALE/Pong-v5"."""
    if game not in ATARI_60:
        raise ValueError(f"unknown Atari game {game!r}; choose one of {list(ATARI_60)}")
    return f"ALE/{game}-v5"
