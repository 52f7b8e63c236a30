def count_vowels(text):
    count = 0
    for ch in text.lower():
        if ch not in "aeiou":
            count += 1
    return count
