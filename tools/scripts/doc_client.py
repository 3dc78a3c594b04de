"""The API document's Python client snippets, run against a live authapi.

Each block below is a snippet of the API document as written. Only two things
differ: BASE_URL comes from the environment, and the activation code, which a
user would read in the email, is read from the log mailer's output.
"""

import os
import re
import sys
import time

import requests

BASE_URL = os.environ["BASE_URL"]
SERVICE_LOG = os.environ["SERVICE_LOG"]


def activation_code_from_log(email, emails):
    """Return the last activation code the log mailer printed for email, once
    it has printed the number of activation emails given: the outbox sends
    after the request has been answered, so the newest may not be out yet."""
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(SERVICE_LOG, encoding="utf-8") as log:
            codes = [
                m.group(1)
                for line in log
                if email in line
                for m in [re.search(r"activation code is (\d{6})", line)]
                if m
            ]
        if len(codes) >= emails:
            return codes[-1]
        time.sleep(0.1)
    sys.exit(f"fewer than {emails} activation codes for {email} in {SERVICE_LOG}")


# Signup
resp = requests.post(
    f"{BASE_URL}/signup",
    json={
        "email": "astro.user@example.com",
        "password": "StrongPassword123!",
        "first_name": "Astro",
        "last_name": "User",
    },
    timeout=30,
)
resp.raise_for_status()
print(resp.json())

# Resend activation email ("use only before successful verification")
resp = requests.post(
    f"{BASE_URL}/resend-activation",
    json={"email": "astro.user@example.com"},
    timeout=30,
)
resp.raise_for_status()
print(resp.json())

# Signup's email and the resend's.
ACTIVATION_CODE = activation_code_from_log("astro.user@example.com", 2)

# Verify account
resp = requests.post(
    f"{BASE_URL}/verify",
    json={
        "email": "astro.user@example.com",
        "activation_code": ACTIVATION_CODE,
    },
    timeout=30,
)
resp.raise_for_status()
print(resp.json())

# Login
resp = requests.post(
    f"{BASE_URL}/login",
    json={
        "email": "astro.user@example.com",
        "password": "StrongPassword123!",
    },
    timeout=30,
)
resp.raise_for_status()
tokens = resp.json()
ACCESS_TOKEN = tokens["access_token"]
REFRESH_TOKEN = tokens["refresh_token"]
print(tokens)

# Token usage helper, on the protected route
headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
resp = requests.get(f"{BASE_URL}/me", headers=headers, timeout=30)
resp.raise_for_status()
print(resp.json())

# Refresh access token
resp = requests.post(
    f"{BASE_URL}/refresh",
    json={"refresh_token": REFRESH_TOKEN},
    timeout=30,
)
resp.raise_for_status()
ACCESS_TOKEN = resp.json()["access_token"]
print(resp.json())

headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
resp = requests.get(f"{BASE_URL}/me", headers=headers, timeout=30)
resp.raise_for_status()
assert resp.json()["is_active"] is True, resp.json()
print("the API document's client flow passed")
