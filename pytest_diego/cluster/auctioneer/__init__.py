"""The embedded auctioneer: batches start requests from the BBS and places them on cells like Diego.

``scoring`` is the pure placement algorithm, ``batch`` the waiting work, ``runner`` the auction
loop, ``server`` the HTTP API and ``metrics`` the Prometheus registry.
"""
