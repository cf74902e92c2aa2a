import hashlib

from knowgap.topics.text import fallback_topic, html_to_text, normalize_question_text, question_hash


def test_html_to_text_drops_tags_scripts_and_unescapes():
    html = ('<div><p>What&nbsp;is&nbsp;<strong>2 &lt; 3</strong>?</p><script>alert("x")</script>'
            '<style>p{color:red}</style><ul><li>one</li><li>two</li></ul></div>')
    assert html_to_text(html) == "What is 2 < 3? one two"


def test_html_to_text_block_tags_separate_words_and_plain_text_passes():
    assert html_to_text("<p>first</p><p>second</p>line<br/>break") == "first second line break"
    assert html_to_text("  plain\n\ttext  ") == "plain text"
    assert html_to_text(None) == ""
    assert html_to_text("") == ""
    assert html_to_text("&amp;&#39;&quot;") == "&'\""


def test_html_to_text_keeps_canvas_equation_latex():
    html = '<p>Solve <img class="equation_image" title="x^2=4" alt="LaTeX: x^2=4" src="/equation_images/x"></p>'
    assert html_to_text(html) == "Solve x^2=4"
    html2 = '<img data-equation-content="\\frac{1}{2}" alt="half">'
    assert html_to_text(html2) == "\\frac{1}{2}"


def test_normalize_question_text():
    assert normalize_question_text("  What IS a   Stack?  ") == "what is a stack"
    assert normalize_question_text("<p>What is a <em>stack</em>?</p>") == "what is a stack"
    assert normalize_question_text("\u201cQuoted\u201d \u2014 dash!!!") == "quoted\" - dash"
    assert normalize_question_text("f(x) = 2.5") == "f(x) = 2.5"
    assert normalize_question_text("...") == ""
    assert normalize_question_text(None) == ""
    assert normalize_question_text("x < y and y > z") == "x < y and y > z"


def test_question_hash_matches_across_markup_variants():
    a = question_hash("<p>What is a stack?</p>")
    b = question_hash("what is a&nbsp;stack")
    c = question_hash("What is a queue?")
    assert a == b != c
    assert a == hashlib.sha256(b"what is a stack").hexdigest()
    assert len(a) == 64


def test_fallback_topic_phrases():
    assert fallback_topic("What is the time complexity of binary search on a sorted array?") == \
        "time complexity binary search"
    assert fallback_topic("Explain recursion and give an example of a base case.") == "recursion base case"
    assert fallback_topic("<p>Which of the following best describes <b>photosynthesis</b>?</p>") == "photosynthesis"
    assert fallback_topic("True or False: A stack is a LIFO data structure.") == "lifo data structure"
    assert fallback_topic("") == ""
    assert fallback_topic(None) == ""


def test_fallback_topic_is_short_and_never_empty_for_real_text():
    for q in ["What is 2 + 2?", "Solve for x: x^2 = 4",
              "In Python, what does the len() function return when called on a dictionary of lists of tuples?",
              "Describe the relationship between supply, demand, price elasticity, consumer surplus, "
              "producer surplus and deadweight loss in competitive markets."]:
        topic = fallback_topic(q)
        assert topic
        assert 1 <= len(topic.split()) <= 5
