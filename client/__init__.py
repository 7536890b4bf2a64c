"""Command-line chat client for the Bedrock agent's API (``python -m client``).

``client.tools`` holds the RETURN_CONTROL tools only the client can run; ``client.api`` talks to the
API; ``client.cli`` is the command line. Importing the package has no side effects.
"""
