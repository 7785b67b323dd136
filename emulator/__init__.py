"""Local emulator of the email-event export APIs of APSIS One, ExpertSender and Netcore."""

__version__ = "0.1.0"
