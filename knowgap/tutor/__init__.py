"""KnowGap's tutor: a grounded "why was I wrong?" conversation on each missed question."""
