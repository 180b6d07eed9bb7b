def test_health_answers_without_login(client, db):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_ready_checks_the_database(client, db):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
