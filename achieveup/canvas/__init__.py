"""AchieveUp's ``/canvas`` routes: the caller's Canvas courses, quizzes and questions."""
