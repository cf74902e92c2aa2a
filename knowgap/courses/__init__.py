"""KnowGap course data: quizzes, questions and each student's incorrectly answered questions."""
