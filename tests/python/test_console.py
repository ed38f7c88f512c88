"""The web console in headless Chromium (Debian's chromium + chromedriver, driven by Selenium;
scripts/test.sh installs them): open it, see the topic the test created, open its partitions,
browse the first messages and read the produced values, produce a test message from the page and
read it with a Kafka consumer, see the consumer groups' lag and members (classic, KIP-848 and a
share group with its share-partition start offsets), reset offsets behind a confirmation (a
classic and a share group), change a topic config in the page and see it applied through the
Kafka admin API. Screenshots go to
target/console-screenshots/ for a person to look at."""
import json
import re
import shutil
import urllib.error
import urllib.request

from confluent_kafka import ConsumerGroupTopicPartitions, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ROOT, Broker, _free_port
from test_share_groups import group_configs, poll_until, share_consumer

SHOTS = ROOT / "target" / "console-screenshots"


TOPIC, GROUP, SHARE_GROUP = "console-orders", "console-readers", "console-sharers"


def _chrome():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    assert chromium and driver, "install Debian's chromium and chromium-driver (scripts/test.sh does)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _loaded(browser, wait, hash_):
    """Wait until the page has rendered the view of `hash_` (the console marks it on <main>)."""
    wait.until(lambda d: d.execute_script(
        "return document.getElementById('main').dataset.loaded === arguments[0]", hash_))


def test_console_in_headless_chromium(tmp_path):
    http = _free_port()
    b = Broker(tmp_path, extra=["--http-listener", f"127.0.0.1:{http}"])
    b.start()
    base = f"http://127.0.0.1:{http}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser = None
    try:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 2, 1)])[TOPIC].result(30)
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(10):
            p.produce(TOPIC, key=f"order-{i}".encode(),
                      value=json.dumps({"order": i, "item": f"widget-{i}"}).encode(),
                      headers=[("source", b"test")], partition=0)
        assert p.flush(30) == 0
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": GROUP,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([TOPIC])
        got = []
        for _ in range(200):
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m)
            if len(got) == 4:
                break
        assert len(got) == 4
        c.commit(message=got[-1], asynchronous=False)
        c.close()
        # A second group stays up while the browser looks: its member and assignment show.
        live = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "console-live",
                         "client.id": "live-reader", "auto.offset.reset": "earliest"})
        live.subscribe([TOPIC])
        for _ in range(100):
            live.poll(0.2)
            if len(live.assignment()) == 2:
                break
        assert len(live.assignment()) == 2
        for _ in range(100):
            m = live.poll(0.2)
            if m is not None and not m.error():
                live.commit(message=m, asynchronous=False)
                break
        else:
            raise AssertionError("the live group read nothing")
        # A KIP-848 consumer group (group.protocol=consumer) with a live member.
        kip848 = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "console-848",
                           "client.id": "kip848-reader", "group.protocol": "consumer",
                           "auto.offset.reset": "earliest"})
        kip848.subscribe([TOPIC])
        for _ in range(150):
            kip848.poll(0.2)
            if len(kip848.assignment()) == 2:
                break
        assert len(kip848.assignment()) == 2
        # A share group (KIP-932) with a live member that has read partition 0's records.
        group_configs(b.bootstrap, SHARE_GROUP, share_auto_offset_reset="earliest")
        sharer = share_consumer(b.bootstrap, SHARE_GROUP, TOPIC,
                                extra={"client.id": "share-reader"})
        assert len(poll_until(sharer, lambda got: len(got) >= 10)) >= 10
        sharer.poll(0.5)  # acknowledges the records of the previous poll (implicit mode)

        # The API refuses bad input with a message.
        status, body = _get(f"{base}/api/v1/topics/{TOPIC}/messages?partition=zero")
        assert status == 400 and "partition" in json.loads(body)["error"]
        status, body = _get(f"{base}/api/v1/topics/{TOPIC}/messages?max_bytes=100000000")
        assert status == 400 and "max_bytes" in json.loads(body)["error"]
        status, body = _get(f"{base}/api/v1/topics/{TOPIC}/messages?offset=1&timestamp=5")
        assert status == 400 and "not both" in json.loads(body)["error"]
        # By timestamp: from the epoch is everything, from the far future nothing.
        status, body = _get(f"{base}/api/v1/topics/{TOPIC}/messages?timestamp=0&limit=3")
        assert status == 200 and [m["offset"] for m in json.loads(body)["records"]] == [0, 1, 2]
        status, body = _get(f"{base}/api/v1/topics/{TOPIC}/messages?timestamp=99999999999999")
        page = json.loads(body)
        assert status == 200 and page["records"] == [] and page["next_offset"] == 10
        # A first batch larger than max_bytes is refused, not returned whole.
        status, body = _get(f"{base}/api/v1/topics/{TOPIC}/messages?max_bytes=1")
        assert status == 400 and "more than max_bytes" in json.loads(body)["error"]
        assert _get(f"{base}/api/v1/topics/no-such-topic")[0] == 404
        assert _get(f"{base}/no/such/page")[0] == 404

        browser = _chrome()
        wait = WebDriverWait(browser, 20)
        browser.get(base + "/")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#brokers-table tr[data-broker='1']")))
        assert "Under-replicated" in browser.find_element(By.TAG_NAME, "main").text
        browser.save_screenshot(str(SHOTS / "1-overview.png"))

        browser.find_element(By.CSS_SELECTOR, "a[data-nav='topics']").click()
        _loaded(browser, wait, "#/topics")
        row = wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f"#topics-table tr[data-topic='{TOPIC}']")))
        assert "10" in row.text  # records
        # Its message rate fills in from /metrics samples (every 2 s while the page is open).
        wait.until(lambda d: re.fullmatch(r"\d+\.\d", d.find_element(
            By.CSS_SELECTOR, f"#topics-table tr[data-topic='{TOPIC}'] td.rate").text))
        browser.save_screenshot(str(SHOTS / "2-topics.png"))

        row.find_element(By.TAG_NAME, "a").click()
        _loaded(browser, wait, f"#/topics/{TOPIC}")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#partitions-table tr[data-partition='1']")))
        p0 = browser.find_element(By.CSS_SELECTOR, "#partitions-table tr[data-partition='0']")
        assert "10" in p0.text  # high watermark
        browser.save_screenshot(str(SHOTS / "3-topic.png"))

        p0.find_element(By.CSS_SELECTOR, "a.browse").click()
        _loaded(browser, wait, f"#/topics/{TOPIC}/messages/0")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#messages-table tr[data-offset='0']")))
        rows = browser.find_elements(By.CSS_SELECTOR, "#messages-table tr[data-offset]")
        assert len(rows) == 10
        first = rows[0]
        assert first.find_element(By.CSS_SELECTOR, "td.key").text == "order-0"
        value = first.find_element(By.CSS_SELECTOR, "td.value").text
        assert json.loads(value) == {"order": 0, "item": "widget-0"}
        assert '"item": "widget-0"' in value  # pretty-printed JSON
        assert "source: test" in first.text
        browser.save_screenshot(str(SHOTS / "4-messages.png"))

        # Produce a test message from the page: the browser shows it, a Kafka consumer reads it.
        browser.find_element(By.CSS_SELECTOR, "#produce-form input[name='key']").send_keys("from-console")
        browser.find_element(By.CSS_SELECTOR, "#produce-form input[name='value']").send_keys("hello from the console")
        browser.find_element(By.CSS_SELECTOR, "#produce-form input[name='header']").send_keys("via=browser")
        browser.find_element(By.CSS_SELECTOR, "#produce-form button").click()
        _loaded(browser, wait, f"#/topics/{TOPIC}/messages/0?offset=10&limit=50&mode=json")
        new = browser.find_element(By.CSS_SELECTOR, "#messages-table tr[data-offset='10']")
        assert "hello from the console" in new.text and "via: browser" in new.text, new.text
        reader = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "console-check",
                           "auto.offset.reset": "earliest"})
        reader.assign([TopicPartition(TOPIC, 0, 10)])
        m = None
        for _ in range(100):
            m = reader.poll(0.2)
            if m is not None and not m.error():
                break
        assert m is not None and not m.error()
        assert (m.offset(), m.key(), m.value()) == (10, b"from-console", b"hello from the console")
        assert m.headers() == [("via", b"browser")]
        reader.close()
        # A refused test message shows the broker's reason (no partition 7).
        status, body = _post(f"{base}/api/v1/topics/{TOPIC}/messages",
                             {"partition": 7, "value": "x"})
        assert status == 400 and "UnknownTopicOrPartition" in json.loads(body)["error"], body

        # Hex view of the same page.
        browser.get(f"{base}/#/topics/{TOPIC}/messages/0?offset=3&limit=2&mode=hex")
        _loaded(browser, wait, f"#/topics/{TOPIC}/messages/0?offset=3&limit=2&mode=hex")
        rows = browser.find_elements(By.CSS_SELECTOR, "#messages-table tr[data-offset]")
        assert [r.get_attribute("data-offset") for r in rows] == ["3", "4"]
        assert rows[0].find_element(By.CSS_SELECTOR, "td.key").text == b"order-3".hex()

        browser.find_element(By.CSS_SELECTOR, "a[data-nav='groups']").click()
        _loaded(browser, wait, "#/groups")
        group = wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f"#groups-table tr[data-group='{GROUP}']")))
        assert group.find_element(By.CSS_SELECTOR, "td.lag").text == "7", group.text
        members = browser.find_element(By.CSS_SELECTOR, "#groups-table tr[data-group='console-live'] td.members").text
        assert "live-reader" in members and f"{TOPIC}-0" in members and f"{TOPIC}-1" in members, members
        # The KIP-848 group: type consumer, its member with both partitions.
        row848 = browser.find_element(By.CSS_SELECTOR, "#groups-table tr[data-group='console-848']")
        assert "consumer" in row848.text and "Stable" in row848.text, row848.text
        members = row848.find_element(By.CSS_SELECTOR, "td.members").text
        assert "kip848-reader" in members and f"{TOPIC}-0" in members and f"{TOPIC}-1" in members, members
        # The share group: its member with the assignment, and per share-partition the start
        # offset and lag (DescribeShareGroupOffsets).
        share_row = browser.find_element(By.CSS_SELECTOR, f"#groups-table tr[data-group='{SHARE_GROUP}']")
        assert "share" in share_row.text and "share-reader" in share_row.text, share_row.text
        assert f"{TOPIC}-0" in share_row.find_element(By.CSS_SELECTOR, "td.members").text
        assert f"{TOPIC}-0: start " in share_row.text, share_row.text
        browser.save_screenshot(str(SHOTS / "5-groups.png"))

        # Reset offsets, confirmed in a dialog: refused while the group has members, applied
        # to an empty one (the lag goes to 0; a Kafka consumer of the group starts at the end).
        browser.find_element(
            By.CSS_SELECTOR, "form.reset[data-group='console-live'] button").click()
        browser.switch_to.alert.accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "reset-status"), "active members"))
        Select(browser.find_element(
            By.CSS_SELECTOR, f"form.reset[data-group='{GROUP}'] select[name='to']")
        ).select_by_visible_text("latest")
        browser.find_element(By.CSS_SELECTOR, f"form.reset[data-group='{GROUP}'] button").click()
        assert "Reset the committed offsets" in browser.switch_to.alert.text
        browser.switch_to.alert.accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "reset-status"), "reset to latest"))
        lag = browser.find_element(By.CSS_SELECTOR, f"#groups-table tr[data-group='{GROUP}'] td.lag")
        assert lag.text == "0", lag.text
        browser.save_screenshot(str(SHOTS / "5b-groups-reset.png"))
        committed = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(GROUP, [TopicPartition(TOPIC, 0)])])[GROUP].result(30)
        assert committed.topic_partitions[0].offset == 11

        # The share group's member leaves; its share-partitions are reset to the earliest
        # offset in the page (confirmed), as AlterShareGroupOffsets: start offset 0 and every
        # record of partition 0 (11) to deliver again.
        sharer.close()
        browser.get(f"{base}/#/groups")
        _loaded(browser, wait, "#/groups")
        form = f"form.reset[data-group='{SHARE_GROUP}']"
        browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
        assert "share-partition start offsets" in browser.switch_to.alert.text
        browser.switch_to.alert.accept()
        wait.until(ec.text_to_be_present_in_element((By.ID, "reset-status"), "reset to earliest"))
        share_row = browser.find_element(By.CSS_SELECTOR, f"#groups-table tr[data-group='{SHARE_GROUP}']")
        assert f"{TOPIC}-0: start 0, lag 11" in share_row.text, share_row.text
        browser.save_screenshot(str(SHOTS / "5c-share-group-reset.png"))

        # Change retention.ms in the page; the Kafka admin API sees it.
        browser.get(f"{base}/#/topics/{TOPIC}")
        _loaded(browser, wait, f"#/topics/{TOPIC}")
        box = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[data-config='retention.ms']")))
        box.clear()
        box.send_keys("3600000")
        browser.find_element(By.CSS_SELECTOR, "button[data-save='retention.ms']").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "config-status"), "applied"))
        browser.save_screenshot(str(SHOTS / "6-config-changed.png"))
        res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
        configs = admin.describe_configs([res])[res].result(30)
        assert configs["retention.ms"].value == "3600000"
        # A bad value is refused in the page with the broker's reason.
        box = browser.find_element(By.CSS_SELECTOR, "input[data-config='retention.ms']")
        box.clear()
        box.send_keys("soon")
        browser.find_element(By.CSS_SELECTOR, "button[data-save='retention.ms']").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "config-status"), "retention.ms:"))
        assert "error" in browser.find_element(By.ID, "config-status").get_attribute("class")
        configs = admin.describe_configs([res])[res].result(30)
        assert configs["retention.ms"].value == "3600000"
        live.close()
        kip848.close()
    finally:
        if browser is not None:
            browser.quit()
        b.stop()
