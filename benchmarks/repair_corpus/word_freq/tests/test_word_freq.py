from word_freq import word_freq
def test_counts(): assert word_freq("a b a") == {"a": 2, "b": 1}
