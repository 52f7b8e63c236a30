from palindrome import is_palindrome
def test_empty(): assert is_palindrome("")
def test_digits(): assert is_palindrome("12321") and not is_palindrome("123")
