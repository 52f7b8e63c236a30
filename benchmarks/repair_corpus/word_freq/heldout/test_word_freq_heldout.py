from word_freq import word_freq
def test_case(): assert word_freq("Go go GO") == {"go": 3}
def test_empty(): assert word_freq("") == {}
