"""KnowGap caller identity: who is calling, proven by their own Canvas token."""
