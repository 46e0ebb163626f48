"""Signal helpers, rooms and microphones, and the training streams built from them."""
