"""The off-policy loop (SAC, TD3) on JAX or gymnasium environments: its program and its
host runner."""
