"""The on-policy loop (PPO) on JAX or gymnasium environments: its program and its host
runner."""
