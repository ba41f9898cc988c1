"""The closed loop on this machine in simulated time (`loop`), the demo that tells its story
(`demo`, `report`), and the generated card-transaction data it runs on (`datagen`)."""
