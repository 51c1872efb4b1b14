# Read by the `flask` CLI (python-dotenv) so commands work from the repository root.
FLASK_APP=app:create_app
