"""What every loop family shares: the network state and the masked trainer, episode
statistics, evaluation, chunk metrics, the batched run point, replay transitions, the
actor-critic program base and the runner bases."""
