"""Reference scores that fix the 0 and 1 of normalised scores: Atari random/human returns and
classic-control (random, best) returns, plus the mapping from environment ids to Atari games."""

from __future__ import annotations

import re

# Atari 57: game -> (random, human) episode returns, the table behind human-normalised scores in
# the DQN line of work (Dueling DQN, Rainbow, Agent57) and in Dopamine/rliable-based papers such
# as Graesser et al. 2022 and Obando-Ceron et al. 2024. Checked entry by entry against DeepMind's
# dqn_zoo (dqn_zoo/atari_data.py) and Google Research's reincarnating_rl (atari_scores.py); they
# differ only on VideoPinball's random score (dqn_zoo 16256.9, Google Research 0.0): we take 0.0,
# as in the Google Research code (the papers do not print the number they used).
ATARI_RANDOM_HUMAN: dict[str, tuple[float, float]] = {
    "Alien": (227.8, 7127.7),
    "Amidar": (5.8, 1719.5),
    "Assault": (222.4, 742.0),
    "Asterix": (210.0, 8503.3),
    "Asteroids": (719.1, 47388.7),
    "Atlantis": (12850.0, 29028.1),
    "BankHeist": (14.2, 753.1),
    "BattleZone": (2360.0, 37187.5),
    "BeamRider": (363.9, 16926.5),
    "Berzerk": (123.7, 2630.4),
    "Bowling": (23.1, 160.7),
    "Boxing": (0.1, 12.1),
    "Breakout": (1.7, 30.5),
    "Centipede": (2090.9, 12017.0),
    "ChopperCommand": (811.0, 7387.8),
    "CrazyClimber": (10780.5, 35829.4),
    "Defender": (2874.5, 18688.9),
    "DemonAttack": (152.1, 1971.0),
    "DoubleDunk": (-18.6, -16.4),
    "Enduro": (0.0, 860.5),
    "FishingDerby": (-91.7, -38.7),
    "Freeway": (0.0, 29.6),
    "Frostbite": (65.2, 4334.7),
    "Gopher": (257.6, 2412.5),
    "Gravitar": (173.0, 3351.4),
    "Hero": (1027.0, 30826.4),
    "IceHockey": (-11.2, 0.9),
    "Jamesbond": (29.0, 302.8),
    "Kangaroo": (52.0, 3035.0),
    "Krull": (1598.0, 2665.5),
    "KungFuMaster": (258.5, 22736.3),
    "MontezumaRevenge": (0.0, 4753.3),
    "MsPacman": (307.3, 6951.6),
    "NameThisGame": (2292.3, 8049.0),
    "Phoenix": (761.4, 7242.6),
    "Pitfall": (-229.4, 6463.7),
    "Pong": (-20.7, 14.6),
    "PrivateEye": (24.9, 69571.3),
    "Qbert": (163.9, 13455.0),
    "Riverraid": (1338.5, 17118.0),
    "RoadRunner": (11.5, 7845.0),
    "Robotank": (2.2, 11.9),
    "Seaquest": (68.4, 42054.7),
    "Skiing": (-17098.1, -4336.9),
    "Solaris": (1236.3, 12326.7),
    "SpaceInvaders": (148.0, 1668.7),
    "StarGunner": (664.0, 10250.0),
    "Surround": (-10.0, 6.5),
    "Tennis": (-23.8, -8.3),
    "TimePilot": (3568.0, 5229.2),
    "Tutankham": (11.4, 167.6),
    "UpNDown": (533.4, 11693.2),
    "Venture": (0.0, 1187.5),
    "VideoPinball": (0.0, 17667.9),
    "WizardOfWor": (563.5, 4756.5),
    "YarsRevenge": (3092.9, 54576.9),
    "Zaxxon": (32.5, 9173.3),
}

# Classic control: env -> (random, best) episode returns for min-max normalisation.
# random: mean return of a uniform-random policy, measured with gymnasium 1.3.0 over N episodes
#   (reset seeds 0..N-1, action_space seed 0; standard error in brackets): CartPole 22.18 (0.12,
#   N=10000), Acrobot -498.8 (0.26, N=2000), MountainCar -200 (0, N=1000: never reaches the goal),
#   Pendulum -1229.6 (5.3, N=3000), MountainCarContinuous -33.33 (0.03, N=1000: no goal reached,
#   only the 0.1 * action^2 cost over 999 steps).
# best: the largest return the reward function allows (gymnasium docs): +1 for each of 500 steps
#   on CartPole; 0 on Acrobot, MountainCar and Pendulum, whose per-step rewards are <= 0 (an upper
#   bound no agent reaches, so good agents score below 1 there); 100 on MountainCarContinuous
#   (the goal bonus, less the action cost).
CLASSIC_CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "CartPole-v1": (22.2, 500.0),
    "Acrobot-v1": (-498.8, 0.0),
    "MountainCar-v0": (-200.0, 0.0),
    "Pendulum-v1": (-1229.6, 0.0),
    "MountainCarContinuous-v0": (-33.3, 100.0),
}

# Games of Dopamine's 60 (sparserl.envs.atari_games.ATARI_60) outside the Atari-57 table: none
# has a human score in the DQN-line tables above (dqn_zoo, Google Research), so none can be
# human-normalised.
ATARI_WITHOUT_HUMAN_SCORE = ("AirRaid", "Carnival", "ElevatorAction", "JourneyEscape", "Pooyan")

# "ALE/Breakout-v5", "BreakoutNoFrameskip-v4", "BreakoutDeterministic-v4", "Breakout-v4".
_ATARI_ENV_ID = re.compile(r"^(?:ALE/)?(?P<game>[A-Za-z]+?)(?:NoFrameskip|Deterministic)?-v\d+$")
_GAME_KEYS = {game.lower(): game for game in ATARI_RANDOM_HUMAN}
_UNSCORED_KEYS = {game.lower() for game in ATARI_WITHOUT_HUMAN_SCORE}


def atari_game(env_id: str) -> str:
    """The table's game name for a game name or gymnasium/ALE id ("ALE/Breakout-v5",
    "BreakoutNoFrameskip-v4", "breakout", "ms_pacman" -> "Breakout", "MsPacman"); an error for
    a game with no reference scores."""
    match = _ATARI_ENV_ID.match(env_id)
    name = match["game"] if match else env_id
    key = name.replace("_", "").lower()
    if key in _UNSCORED_KEYS:
        raise ValueError(
            f"no human reference score for Atari game {env_id!r} (the standard tables have "
            f"none for {', '.join(ATARI_WITHOUT_HUMAN_SCORE)}), so no human-normalised score; "
            f"games with one: {', '.join(sorted(ATARI_RANDOM_HUMAN))}"
        )
    game = _GAME_KEYS.get(key)
    if game is None:
        raise ValueError(
            f"unknown Atari game {env_id!r}; known games: {', '.join(sorted(ATARI_RANDOM_HUMAN))}"
        )
    return game
