"""KnowGap videos: YouTube search per topic, instructor overrides, watched state and votes."""
