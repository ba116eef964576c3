"""Value-based agents (DQN, Rainbow, IQN, M-IQN): their configs, per-example losses, the
shared ValueAgent and DrQ image augmentation. Each agent registers itself when its module loads."""
