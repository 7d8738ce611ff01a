def test_demo_catalog_is_loaded_for_every_test(browser):
    assert browser.page("/products/DEMO-1500").status_code == 200
    assert browser.add("DEMO-0030", 2).status_code == 200
    assert browser.cart()["item_count"] == 2
