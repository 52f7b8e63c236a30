from fizzbuzz import fizzbuzz
def test_sequence():
    assert [fizzbuzz(i) for i in range(1, 16)][-1] == "FizzBuzz"
    assert fizzbuzz(25) == "Buzz" and fizzbuzz(33) == "Fizz" and fizzbuzz(1) == "1"
