"""Model backends behind one interface (chat messages with images in, text out, with tokens and timings)."""
