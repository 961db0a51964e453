from chatbot.cli import app

app()
