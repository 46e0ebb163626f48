"""Corpus readers and layouts, the negatives cache and the Debian packages behind it, the unknown_words audit."""
