"""Email: composed with both parts, queued in the outbox with its cause, sent exactly once by
the job through a real SMTP server on loopback (or written as .eml files when none is set)."""

from __future__ import annotations

import logging
import re
import smtplib
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest

from storefront import clock, jobs
from storefront.extensions import db
from storefront.mail import outbox, transports
from storefront.mail.compose import BadAddress, compose
from storefront.mail.models import OutboxMessage
from tests.helpers import Browser
from tests.mailbox import parts

EMAIL = "shopper@example.com"


@pytest.fixture
def settings(mailbox):
    return {"STOREFRONT_SMTP_URL": mailbox.url, "STOREFRONT_MAIL_FROM": "orders@shop.example"}


def queue_one(app, key="test:1", to=EMAIL):
    with app.test_request_context():
        message = compose(
            "password_reset", to, "reset your password", {"link": "x", "valid_minutes": 60}
        )
        assert outbox.enqueue("password_reset", key, message)
        db.session.commit()
        return message["Message-ID"]


def send(app, worker=None):
    with app.app_context():
        return outbox.send_due(transports.for_config(app.config), worker)


def test_an_email_has_both_parts_inlined_css_and_the_shop_in_its_subject(app, mailbox):
    message_id = queue_one(app)
    assert send(app).sent == 1
    [message] = mailbox.received
    assert message["Subject"] == "Storefront: reset your password"
    assert message["From"] == "orders@shop.example" and message["To"] == EMAIL
    assert message["Message-ID"] == message_id
    text, html = parts(message)
    assert "ignore this email" in text and "<" not in text
    assert "<style" not in html and 'style="' in html  # CSS inlined for mail clients
    with app.app_context():
        assert db.session.query(OutboxMessage).one().status == "sent"


def test_header_injection_is_refused_before_anything_is_queued(app):
    with app.test_request_context():
        for address in ("a@b.example\r\nBcc: x@evil.example", "A <a@b.example>", "a@b, c@d", ""):
            with pytest.raises(BadAddress):
                compose("password_reset", address, "s", {"link": "x", "valid_minutes": 1})
        message = compose(
            "password_reset",
            EMAIL,
            "line\r\nBcc: x@evil.example",
            {"link": "x", "valid_minutes": 1},
        )
        assert "\n" not in message["Subject"] and message["Bcc"] is None


def test_two_workers_and_one_message_send_one_email(app, mailbox):
    for n in range(5):
        queue_one(app, key=f"test:{n}")
    barrier = threading.Barrier(2)
    reports = []

    def worker(name):
        barrier.wait()
        reports.append(send(app, name))

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 5
    assert len(mailbox.received) == 5
    assert len({m["Message-ID"] for m in mailbox.received}) == 5


def test_a_worker_killed_between_claim_and_send_leaves_it_to_the_next(app, mailbox):
    message_id = queue_one(app)
    with app.app_context():
        assert outbox.claim("dies") != []  # claimed, then the process is gone
    assert send(app).sent == 0  # its lease still holds
    clock.advance(outbox.LEASE + timedelta(seconds=1))
    assert send(app).sent == 1
    assert [m["Message-ID"] for m in mailbox.received] == [message_id]
    clock.advance(outbox.LEASE * 2)
    assert send(app).sent == 0 and len(mailbox.received) == 1


def test_smtp_down_then_up_delivers_everything_later(app, mailbox):
    mailbox.stop()
    for n in range(3):
        queue_one(app, key=f"test:{n}")
    report = send(app)
    assert (report.sent, report.retrying) == (0, 3)
    with app.app_context():
        rows = db.session.query(OutboxMessage).all()
        assert all(r.status == "pending" and r.last_error for r in rows)
        assert outbox.backlog() == {"pending": 3, "failed": 0}
    assert send(app).sent == 0  # backing off
    mailbox.start()
    clock.advance(outbox.backoff(1) + timedelta(seconds=1))
    assert send(app).sent == 3
    assert len(mailbox.received) == 3


def test_a_wrong_smtp_password_is_retried_not_lost(app, mailbox):
    mailbox.password = "changed"
    queue_one(app)
    assert send(app).retrying == 1
    mailbox.password = "s3cret pass"
    clock.advance(outbox.backoff(1) + timedelta(seconds=1))
    assert send(app).sent == 1


@pytest.mark.parametrize(
    "refusal, permanent",
    [
        (smtplib.SMTPAuthenticationError(535, b"credentials invalid"), False),
        (smtplib.SMTPSenderRefused(530, b"authentication required", "shop@example.com"), False),
        (smtplib.SMTPSenderRefused(538, b"encryption required", "shop@example.com"), False),
        (smtplib.SMTPSenderRefused(451, b"try again later", "shop@example.com"), False),
        (smtplib.SMTPSenderRefused(550, b"not allowed to send", "shop@example.com"), True),
        (smtplib.SMTPDataError(554, b"message refused"), True),
        (smtplib.SMTPDataError(452, b"mailbox full for now"), False),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"greylisted, try later")}), False),
    ],
)
def test_a_refusal_of_the_shops_settings_waits_and_one_of_the_message_gives_up(
    monkeypatch, refusal, permanent
):
    """A wrong password or a missing TLS setting refuses every message alike until the operator
    mends it: the messages wait for that. A message the server refuses for itself is given up."""

    class Refusing(smtplib.SMTP):
        def __init__(self, *args, **kwargs):
            pass

        def __exit__(self, *args):
            pass

        def ehlo(self, *args):
            raise refusal

    monkeypatch.setattr(smtplib, "SMTP", Refusing)
    with pytest.raises(transports.TransportError) as raised:
        transports.SmtpTransport("smtp://shop:pw@127.0.0.1:2525").send(EmailMessage())
    assert raised.value.permanent is permanent


def test_the_same_cause_is_queued_once(app):
    queue_one(app, key="order-placed:1001")
    with app.test_request_context():
        message = compose("password_reset", EMAIL, "again", {"link": "x", "valid_minutes": 60})
        assert not outbox.enqueue("password_reset", "order-placed:1001", message)


def test_backoff_grows_to_an_hour():
    assert outbox.backoff(1) == timedelta(seconds=30)
    assert outbox.backoff(2) == timedelta(minutes=1)
    assert outbox.backoff(30) == timedelta(hours=1)


@pytest.mark.parametrize("settings", [{}], indirect=False)
def test_without_smtp_each_email_is_an_eml_file(app, tmp_path, caplog):
    queue_one(app)
    with caplog.at_level(logging.INFO), app.app_context():
        report = jobs.run_once()
    assert report.mail.sent == 1
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    assert b"Subject: Storefront: reset your password" in eml.read_bytes()
    assert "mail written to" in caplog.text and EMAIL not in caplog.text


# --- password reset -----------------------------------------------------------------------


def reset_link(mailbox, address=EMAIL) -> str:
    text, _ = parts(mailbox.messages_to(address)[-1])
    return re.search(r"http://127\.0\.0\.1:8000(/password/reset/\S+)", text).group(1)


def ask_reset(app, browser, address=EMAIL):
    response = browser.form("/password/forgot", {"email": address})
    send(app)
    return response


def test_forgot_password_answers_the_same_for_any_address(app, browser, mailbox):
    Browser(app.test_client()).register(EMAIL)
    known = ask_reset(app, browser, EMAIL)
    unknown = ask_reset(app, browser, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200

    def strip(response):
        # Per-request tokens differ; everything a reader could learn from must not.
        return re.sub(
            r'(content|hx-headers|data-page-id)="[^"]*"', "", response.get_data(as_text=True)
        )

    assert strip(known) == strip(unknown)
    assert [m["To"] for m in mailbox.received] == [EMAIL]


def test_reset_link_sets_a_new_password_once_and_signs_out_every_device(app, browser, mailbox):
    laptop = Browser(app.test_client())
    laptop.register(EMAIL)
    assert laptop.page("/account").status_code == 200
    ask_reset(app, browser)
    link = reset_link(mailbox)
    assert browser.page(link).status_code == 200
    done = browser.form(
        link, {"password": "a brand new secret", "password_confirm": "a brand new secret"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert laptop.page("/account").status_code == 302  # signed out there
    assert browser.login(EMAIL, "a brand new secret").status_code == 302
    reused = browser.form(
        link, {"password": "another secret 123", "password_confirm": "another secret 123"}
    )
    assert reused.status_code == 400 and "already used" in reused.get_data(as_text=True)


def test_reset_links_refused_when_expired_forged_mismatched_or_account_gone(app, browser, mailbox):
    Browser(app.test_client()).register(EMAIL)
    ask_reset(app, browser)
    link = reset_link(mailbox)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert "not valid" in browser.page(forged).get_data(as_text=True)
    mismatch = browser.form(
        link, {"password": "a brand new secret", "password_confirm": "different one!"}
    )
    assert mismatch.status_code == 422 and "do not match" in mismatch.get_data(as_text=True)
    short = browser.form(link, {"password": "short", "password_confirm": "short"})
    assert short.status_code == 422
    clock.advance(timedelta(minutes=61))
    expired = browser.page(link)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert browser.login(EMAIL).status_code == 302  # the old password still works


def test_a_reset_link_for_a_deleted_account_is_refused(app, browser, mailbox):
    from storefront.accounts.models import User

    Browser(app.test_client()).register(EMAIL)
    ask_reset(app, browser)
    with app.app_context():
        db.session.delete(db.session.query(User).filter_by(email=EMAIL).one())
        db.session.commit()
    response = browser.page(reset_link(mailbox))
    assert response.status_code == 400 and "Ask for a new one" in response.get_data(as_text=True)


def test_an_account_gets_at_most_three_reset_emails_an_hour(app, mailbox):
    Browser(app.test_client()).register(EMAIL)
    for n in range(5):
        asker = Browser(app.test_client(), user_agent=f"agent {n}")
        assert ask_reset(app, asker).status_code == 200
    assert len(mailbox.messages_to(EMAIL)) == 3


def test_reset_emails_and_tokens_stay_out_of_the_logs(app, browser, mailbox, caplog):
    Browser(app.test_client()).register(EMAIL)
    with caplog.at_level(logging.DEBUG):
        ask_reset(app, browser)
    link = reset_link(mailbox)
    browser.page(link)  # opening the link: its access line shows the route, not the token
    token = link.rsplit("/", 1)[1]
    # The shop's own lines, not the test SMTP server's debug log of what it received.
    ours = "\n".join(
        r.getMessage() + str(r.__dict__) for r in caplog.records if r.name != "mail.log"
    )
    assert ours and token not in ours and EMAIL not in ours


def test_forgot_password_without_csrf_is_refused(app, browser, mailbox):
    Browser(app.test_client()).register(EMAIL)
    response = browser.client.post("/password/forgot", data={"email": EMAIL})
    assert response.status_code == 403
    send(app)
    assert mailbox.received == []


# --- TLS to the SMTP server ---------------------------------------------------------------


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_smtp_over_tls_verifies_the_server_and_sends(app, tmp_path, tls):
    import ssl

    from tests.certificates import make_certificate
    from tests.mailbox import Mailbox

    certificate = make_certificate(tmp_path)
    box = Mailbox("shop", "s3cret pass", tls=tls, certificate=certificate).start()
    try:
        queue_one(app)
        with app.app_context():
            transport = transports.SmtpTransport(box.url)
            # Unknown to the system's trust store: refused, kept, tried again later.
            assert outbox.send_due(transport).retrying == 1
            assert box.received == []
            clock.advance(outbox.backoff(1) + timedelta(seconds=1))
            transport.tls_context = ssl.create_default_context(cafile=str(certificate[0]))
            assert outbox.send_due(transport).sent == 1
        assert [m["To"] for m in box.received] == [EMAIL]
    finally:
        box.stop()


# --- what must never block the outbox or what causes an email -----------------------------


@pytest.mark.parametrize(
    "address", [".a@example.com", "a..b@example.com", "é@example.com", 'x"y@example.com', "a@b"]
)
def test_addresses_no_email_can_carry_are_refused_at_registration(app, address):
    browser = Browser(app.test_client())
    assert browser.register(address).status_code == 422


def test_an_old_account_whose_address_cannot_be_used_still_resets_nothing_and_answers_the_same(
    app, browser, mailbox, caplog
):
    from storefront.accounts.models import User

    Browser(app.test_client()).register(EMAIL)
    with app.app_context():  # as an account from before addresses were checked this way
        db.session.query(User).filter_by(email=EMAIL).one().email = ".old@example.com"
        db.session.commit()
    with caplog.at_level(logging.WARNING):
        assert ask_reset(app, browser, ".old@example.com").status_code == 200
    assert "its address cannot be used" in caplog.text and ".old@example.com" not in caplog.text
    assert mailbox.received == []


def test_a_job_that_fails_does_not_keep_mail_from_going_out(app, mailbox, monkeypatch):
    queue_one(app)

    def broken(report):
        raise RuntimeError("a row the job cannot handle")

    monkeypatch.setattr(jobs, "expire_orders", broken)
    with app.app_context():
        assert jobs.run_once().mail.sent == 1
    assert len(mailbox.received) == 1


def test_a_worker_whose_lease_ran_out_mid_batch_leaves_the_message_to_the_other(app, mailbox):
    queue_one(app)
    with app.app_context():
        assert outbox.claim("slow") != []
    clock.advance(outbox.LEASE + timedelta(seconds=1))
    assert send(app, "fast").sent == 1
    with app.app_context():  # the slow worker, back: its lease is gone, it sends nothing
        [message_id] = [m.id for m in db.session.query(OutboxMessage)]
        from storefront.database import write

        assert not write(lambda: outbox._renew(message_id, "slow"))
    assert len(mailbox.received) == 1


@pytest.mark.parametrize("settings", [{}], indirect=False)
def test_an_eml_folder_that_cannot_be_written_is_retried(app, tmp_path):
    (tmp_path / "mail").write_text("a file where the folder should be")
    queue_one(app)
    report = send(app)
    assert (report.sent, report.retrying) == (0, 1)
    (tmp_path / "mail").unlink()
    clock.advance(outbox.backoff(1) + timedelta(seconds=1))
    assert send(app).sent == 1
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_a_message_that_cannot_be_opened_is_given_up_and_the_next_one_goes(app, mailbox):
    queue_one(app, key="test:1")
    queue_one(app, key="test:2")
    with app.app_context():
        first = db.session.query(OutboxMessage).order_by(OutboxMessage.id).first()
        first.sealed = first.sealed[:-1] + bytes([first.sealed[-1] ^ 1])
        db.session.commit()
    report = send(app)
    assert (report.sent, report.failed) == (1, 1)
    with app.app_context():
        assert outbox.backlog() == {"pending": 0, "failed": 1}


def test_one_reset_link_used_twice_at_once_changes_the_password_once(app, browser, mailbox):
    from storefront.accounts import reset

    Browser(app.test_client()).register(EMAIL)
    ask_reset(app, browser)
    token = reset_link(mailbox).rsplit("/", 1)[1]
    barrier = threading.Barrier(2)
    outcomes = []

    def use(password):
        with app.test_request_context():
            barrier.wait()
            try:
                reset.complete_reset(token, password, password)
                outcomes.append("changed")
            except reset.ResetRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=use, args=(f"new password {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed", "refused"]
