from bank import Account
def test_twice():
    a = Account(50)
    a.withdraw(20)
    assert a.withdraw(30) == 0 and a.balance == 0
