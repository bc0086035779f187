"""The game: deterministic rules (sim), drawing (render), controls, bots and the client app loop."""
