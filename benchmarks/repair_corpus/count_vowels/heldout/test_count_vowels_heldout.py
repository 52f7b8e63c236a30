from count_vowels import count_vowels
def test_mixed_case(): assert count_vowels("AbcdE") == 2
def test_empty(): assert count_vowels("") == 0
def test_sentence(): assert count_vowels("the quick brown fox") == 5
