"""Actor-critic agents: off-policy SAC and TD3 (a shared OffPolicyAgent base) and on-policy
PPO, with their configs. Each agent registers itself when its module loads."""
