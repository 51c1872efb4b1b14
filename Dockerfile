# One image for the web process, Celery workers, beat and Flower.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /srv/app

COPY backend/requirements.txt backend/requirements.txt
RUN pip install --no-cache-dir -r backend/requirements.txt

COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --system --home /srv/app zt \
    && mkdir -p instance && chown zt instance
USER zt

EXPOSE 5000
CMD ["python", "run.py", "--host", "0.0.0.0"]
