def word_freq(text):
    counts = {}
    for word in text.split():
        word = word.lower()
        counts[word] = counts.get(word, 1) + 1
    return counts
