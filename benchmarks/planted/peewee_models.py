"""Peewee models for a small job queue that several worker processes share."""

import datetime
import logging

from peewee import (
    CharField,
    DateTimeField,
    IntegerField,
    Model,
    OperationalError,
    SqliteDatabase,
    TextField,
)

log = logging.getLogger(__name__)

db = SqliteDatabase(None)


class BaseModel(Model):
    class Meta:
        database = db


class Job(BaseModel):
    queue = CharField(index=True)
    payload = TextField()
    attempts = IntegerField(default=0)
    created = DateTimeField(default=datetime.datetime.utcnow)


def init_db(path):
    db.init(path, pragmas={"foreign_keys": 1, "cache_size": -16000})
    db.connect(reuse_if_open=True)
    try:
        db.pragma("journal_mode", "wal")
    except OperationalError as exc:
        log.warning("queue database cannot use WAL (%s); using the rollback journal", exc)
        db.pragma("journal_mode", "delete")  # expect: WAL001
    db.create_tables([Job])


def open_readonly_replica(path):
    try:
        replica = SqliteDatabase(path, pragmas={"journal_mode": "wal", "query_only": 1})
        replica.connect()
    except OperationalError:
        replica = SqliteDatabase(path, pragmas={"journal_mode": "truncate", "query_only": 1})  # expect: WAL001
        replica.connect()
    return replica


def enqueue(queue, payload):
    return Job.create(queue=queue, payload=payload)


def claim(queue):
    with db.atomic():
        job = Job.select().where(Job.queue == queue).order_by(Job.created).first()
        if job is not None:
            job.attempts += 1
            job.save()
        return job
